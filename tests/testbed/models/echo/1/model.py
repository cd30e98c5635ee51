"""Test-bed model: OUTPUT = INPUT, and a histogram of input lengths.

The histogram (``testbed_echo_input_length``) shows that the Python backend's
custom metrics reach Triton's metrics port in Prometheus' bucket format.
"""

import numpy as np
import triton_python_backend_utils as pb_utils

LENGTH_BUCKETS = [1.0, 4.0, 16.0, 64.0]


class TritonPythonModel:
    def initialize(self, args):
        # The family must outlive its metrics: keep a reference on the model.
        self.length_family = pb_utils.MetricFamily(
            name="testbed_echo_input_length",
            description="Number of elements in each echo request's INPUT",
            kind=pb_utils.MetricFamily.HISTOGRAM,
        )
        self.length_metric = self.length_family.Metric(labels={"model": "echo"}, buckets=LENGTH_BUCKETS)

    def execute(self, requests):
        responses = []
        for request in requests:
            values = pb_utils.get_input_tensor_by_name(request, "INPUT").as_numpy()
            self.length_metric.observe(float(values.size))
            output = pb_utils.Tensor("OUTPUT", np.array(values, dtype=np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[output]))
        return responses
