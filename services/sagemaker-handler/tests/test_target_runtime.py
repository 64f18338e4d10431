"""The tarball on the managed runtime's Python: AWS's scikit-learn 1.4-2 image.

That image is Python 3.10 with numpy 2.1.0 and scikit-learn 1.4.2 preinstalled; at startup the
container runs ``pip install -r requirements.txt`` inside the code directory, imports
inference.py from it and calls model_fn on the model directory. This test rebuilds that in a
venv of pyenv's 3.10 and runs the four handler functions from the extracted tarball there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sagemaker_handler.packaging import TARGET_RUNTIME, extract_tarball

PYTHON_310 = Path(
    os.environ.get("SAGEMAKER_TARGET_PYTHON", "/root/.pyenv/versions/3.10.13/bin/python")
)
IMAGE_PINS = [f"{name}=={version}" for name, version in TARGET_RUNTIME["image_packages"].items()]

# Runs inside the 3.10 venv from the code directory (`python -c` puts the working directory on
# sys.path), so inference.py imports as the container's gunicorn imports it.
HANDLER_RUN = r"""
import json, sys, platform
model_dir, customers_file = sys.argv[1], sys.argv[2]
import inference
customers = json.load(open(customers_file))
model = inference.model_fn(model_dir)
out = {}
for name, body, content_type, accept in [
    ("json", json.dumps({"instances": customers}), "application/json", "application/json"),
    ("csv", "\n".join(",".join(str(c[f]) for f in inference.FEATURES_ORDER) for c in customers),
     "text/csv", "application/json"),
]:
    data = inference.input_fn(body, content_type)
    prediction = inference.predict_fn(data, model)
    response, response_type = inference.output_fn(prediction, accept)
    assert response_type == accept, response_type
    out[name] = [p["churn_probability"] for p in json.loads(response)["predictions"]]
body = json.dumps({"instances": customers[:3], "parameters": {"explain": True}})
data = inference.input_fn(body, "application/json")
answer = inference.output_fn(inference.predict_fn(data, model), "application/json")[0]
explained = json.loads(answer)
out["explain_gap"] = max(abs(p["base_value"] + sum(p["feature_contributions"].values())
                             - p["churn_probability"]) for p in explained["predictions"])
# lightgbm imports scikit-learn opportunistically (lightgbm.compat) when it is installed; our
# code never calls it. Record whether the image's copy was loaded into the process.
out["sklearn_loaded"] = "sklearn" in sys.modules
import numpy, sklearn
out["python"] = platform.python_version()
out["numpy"] = numpy.__version__
out["sklearn"] = sklearn.__version__
print("RESULT " + json.dumps(out))
"""


def run(command: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (
        f"{' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout


@pytest.mark.slow
def test_tarball_runs_on_the_scikit_learn_1_4_2_image_runtime(
    tarball: Path, tmp_path: Path, customers: list[dict[str, Any]], predictor: Any
):
    if not PYTHON_310.exists():
        pytest.skip(f"the target runtime's Python 3.10 is not here ({PYTHON_310}); "
                    "set SAGEMAKER_TARGET_PYTHON to a 3.10 interpreter")  # fmt: skip
    env_dir = tmp_path / "py310"
    run([str(PYTHON_310), "-m", "venv", str(env_dir)])
    python = str(env_dir / "bin" / "python")
    pip = [python, "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    run([*pip, *IMAGE_PINS])  # what the image preinstalls
    model_dir = extract_tarball(tarball, tmp_path / "opt" / "ml" / "model")
    run([*pip, "-r", "requirements.txt"], cwd=model_dir / "code")  # what the container runs

    frozen = run([python, "-m", "pip", "freeze"])
    assert "numpy==2.1.0" in frozen  # requirements.txt did not replace the image's numpy
    assert "scikit-learn==1.4.2" in frozen

    customers_file = tmp_path / "customers.json"
    customers_file.write_text(json.dumps(customers))
    script = HANDLER_RUN.replace("inference.FEATURES_ORDER", repr([f for f in customers[0]]))
    command = [python, "-c", script, str(model_dir), str(customers_file)]
    output = run(command, cwd=model_dir / "code")
    result = json.loads(output.split("RESULT ", 1)[1])

    assert result["python"].startswith("3.10.")
    assert (result["numpy"], result["sklearn"]) == ("2.1.0", "1.4.2")
    # the image's scikit-learn 1.4.2 was in the process (via lightgbm) and did not matter
    assert result["sklearn_loaded"] is True
    expected = [p.churn_probability for p in predictor.predict(customers)]
    for path in ("json", "csv"):
        served = result[path]
        assert len(served) == len(expected)
        assert max(abs(a - b) for a, b in zip(served, expected, strict=True)) <= 1e-9, path
    assert result["explain_gap"] <= 1e-6
    assert sys.version_info[:2] != (3, 10)  # the comparison really crossed interpreters
