"""Pictures for people (PNG via matplotlib's Agg canvas): the planning window's heat map with engine limits."""
