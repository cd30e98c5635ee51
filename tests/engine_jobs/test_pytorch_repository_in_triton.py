"""The model repository a PyTorch-backend plan gets, on the real tritonserver: our front ``ensemble`` takes NGC's
inputs, our loader runs "NVIDIA's" llmapi model from the image's directory, and the token metrics move.

No TensorRT-LLM here, so the llmapi directory holds a stand-in with the llmapi model's interface as
docs/trtllm-contract.md writes it down (``model.yaml`` read from the model's own directory, ``triton_config``
applied in ``auto_complete_config``, ``text_input`` and ``sampling_param_*`` in, ``text_output`` out): it echoes
the prompt's words up to ``sampling_param_max_tokens`` and stops at ``max_seq_len`` from model.yaml.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as http
from tritonclient.utils import InferenceServerException

from seasonal_build import cli
from tests.engine_jobs import plan_kinds
from tests.engine_jobs.test_generated_repository_in_triton import ngc_inputs, seasonal_series, tiny_tokenizer, words

LLMAPI_STAND_IN = '''
import json, os
import numpy as np
import triton_python_backend_utils as pb_utils


def _yaml(args_or_dir):
    with open(os.path.join(args_or_dir, "model.yaml")) as f:
        return json.load(f)  # ours is JSON, which is YAML


class TritonPythonModel:
    @classmethod
    def auto_complete_config(cls, config):
        # NVIDIA's model reads triton_config from model.yaml here; the stand-in is told where by the test.
        doc = _yaml(os.environ["SEASONAL_TEST_LLMAPI_YAML_DIR"])["triton_config"]
        config.set_max_batch_size(int(doc["max_batch_size"]))
        config.set_model_transaction_policy(dict(decoupled=bool(doc["decoupled"])))
        return config

    def initialize(self, args):
        self.doc = _yaml(os.path.join(args["model_repository"], args["model_version"]))
        self.calls = 0

    def execute(self, requests):
        out = []
        for r in requests:
            text = pb_utils.get_input_tensor_by_name(r, "text_input").as_numpy().reshape(-1)[0].decode()
            wanted = int(pb_utils.get_input_tensor_by_name(r, "sampling_param_max_tokens").as_numpy().reshape(-1)[0])
            assert pb_utils.get_input_tensor_by_name(r, "sampling_param_seed") is not None
            prompt = text.split()
            n = min(wanted, self.doc["max_seq_len"] - len(prompt))
            words = [prompt[i % len(prompt)] for i in range(n)]
            out.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("text_output", np.array([" ".join(words).encode()], dtype=np.object_))]))
        return out
'''


@pytest.mark.triton
def test_the_pytorch_front_serves_ngc_requests_through_llmapi(tmp_path: Path, triton_factory) -> None:
    plan = plan_kinds.golden(plan_kinds.BY_NAME["pytorch"], "plan")
    plan["runtime"] = {**plan["runtime"], "max_seq_len": 64, "max_num_tokens": 64, "max_batch_size": 4}
    plan["build"] = {**plan["build"], "max_seq_len": 64, "max_num_tokens": 64, "max_input_len": 64,
                     "max_batch_size": 4}
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    llmapi = tmp_path / "image" / "llmapi"
    llmapi.mkdir(parents=True)
    (llmapi / "model.py").write_text(LLMAPI_STAND_IN)
    tokenizer = tiny_tokenizer(tmp_path / "tokenizer")
    repo = tmp_path / "repository"
    assert cli.main(["repository", "--plan", str(plan_file), "--out", str(repo), "--model-dir", str(tokenizer),
                     "--tokenizer-dir", str(tokenizer), "--llmapi-model-dir", str(llmapi)]) == cli.EXIT_OK
    server = triton_factory(repo, env={"SEASONAL_TEST_LLMAPI_YAML_DIR": str(repo / "tensorrt_llm" / "1")})
    client = http.InferenceServerClient(server.http_url.removeprefix("http://"))
    result = client.infer("ensemble", ngc_inputs(words(6), 4, top_k=1, top_p=0.9, seed=3, temperature=0.5,
                                                 stop_words=["w9"], min_tokens=1))
    assert result.as_numpy("text_output").reshape(-1)[0].decode() == "w0 w1 w2 w3"
    assert int(result.as_numpy("num_output_tokens").reshape(-1)[0]) == 4
    assert result.as_numpy("finish_reason").reshape(-1)[0] == b"length"
    limited = client.infer("ensemble", ngc_inputs(words(60), 10, seed=1))
    assert int(limited.as_numpy("num_output_tokens").reshape(-1)[0]) == 4  # max_seq_len 64 - 60
    assert limited.as_numpy("finish_reason").reshape(-1)[0] == b"engine_limit"
    series = seasonal_series(server.metrics_url, plan["model"]["name"])
    assert series["seasonal_request_input_tokens_count"] == 2 and series["seasonal_request_input_tokens_sum"] == 66
    assert series["seasonal_request_output_tokens_sum"] == 8
    assert series["seasonal_requests_limit_stopped_total"] == 1
    with pytest.raises(InferenceServerException, match=re.escape("unexpected inference input")):
        bad = http.InferInput("sampling_param_max_tokens", [1, 1], "INT32")  # llmapi's name, not NGC's
        bad.set_data_from_numpy(np.array([[1]], dtype=np.int32))
        client.infer("ensemble", [*ngc_inputs(words(2), 1), bad])
