"""local/deploy.py's configuration and plan, in-process: where settings and parameters come from,
what is refused before anything is uploaded, and that a real run without credentials stops first."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from local import deploy, ros_template

SECRET = "s3cret-webhook-value-0123456789-abcdef"


@pytest.fixture
def build_dir(tmp_path) -> Path:
    for name in ("function.zip", "layer.zip"):
        with zipfile.ZipFile(tmp_path / name, "w") as archive:
            archive.writestr("index.py" if name == "function.zip" else "python/x.py", name)
    return tmp_path


def run(build_dir: Path, environ: dict, dry_run: bool = True):
    out = io.StringIO()
    code = deploy.main((["--dry-run"] if dry_run else []) + ["--build-dir", str(build_dir)], environ=environ, out=out)
    return code, out.getvalue()


def test_settings_come_from_the_file_and_the_environment_wins(tmp_path, build_dir):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    config = tmp_path / "prod.env"
    config.write_text("# production\nREGION=cn-beijing\nSTACK_NAME='dsrd-prod'\nCodeBucket=from-file\n"
                      f"WebhookSecret_FILE={secret_file}\nMaxBatch = 50\n")
    config.chmod(0o600)
    plan = deploy.make_plan({"DEPLOY_CONFIG": str(config), "CodeBucket": "from-env", "UNRELATED": "x"}, build_dir,
                            ros_template.load())
    assert plan.problems == [] and plan.notes == []
    assert plan.settings["REGION"] == "cn-beijing" and plan.settings["STACK_NAME"] == "dsrd-prod"
    assert plan.given["CodeBucket"] == "from-env" and plan.given["MaxBatch"] == "50"
    assert plan.given["WebhookSecret"] == SECRET  # from the file, without its newline
    digest = plan.artifacts["FunctionCodeObject"].sha256
    assert plan.given["FunctionCodeObject"] == f"ds-record-deleter/function-{digest[:16]}.zip"


def test_a_config_file_others_can_read_is_pointed_out(tmp_path, build_dir):
    config = tmp_path / "prod.env"
    config.write_text(f"REGION=cn-beijing\nCodeBucket=b\nWebhookSecret={SECRET}\n")
    config.chmod(0o644)
    code, output = run(build_dir, {"DEPLOY_CONFIG": str(config)})
    assert code == 0 and "readable by others: chmod 600" in output and SECRET not in output


@pytest.mark.parametrize("environ, problem", [
    ({"CodeBucket": "b", "WebhookSecret": SECRET}, "REGION is required"),
    ({"REGION": "cn-beijing", "WebhookSecret": SECRET}, "CodeBucket is required"),
    ({"REGION": "cn-beijing", "CodeBucket": "b"}, "WebhookSecret is required"),
    ({"REGION": "cn-beijing", "CodeBucket": "b", "WebhookSecret": SECRET, "FunctionCodeObject": "x.zip"},
     "FunctionCodeObject is set by make deploy"),
    ({"REGION": "cn-beijing", "CodeBucket": "b", "WebhookSecret": SECRET, "Timeout": "50000"},
     "Timeout must be at most 43140"),
    ({"REGION": "cn-beijing", "CodeBucket": "b", "WebhookSecret": SECRET, "CustomDomainName": "hook.example.com"},
     "A CustomDomainName needs CustomDomainCertificate"),
])
def test_what_ros_would_refuse_is_refused_first(build_dir, environ, problem):
    code, output = run(build_dir, environ)
    assert code == 1 and problem in output and SECRET not in output


def test_an_unknown_key_in_the_file_is_refused(tmp_path, build_dir):
    config = tmp_path / "prod.env"
    config.write_text("REGION=cn-beijing\nCodeBuckett=b\n")
    config.chmod(0o600)
    code, output = run(build_dir, {"DEPLOY_CONFIG": str(config)})
    assert code == 1 and "CodeBuckett is neither a deploy setting nor a template parameter" in output


def test_without_the_zips_it_says_to_build(tmp_path):
    code, output = run(tmp_path, {"REGION": "cn-beijing", "CodeBucket": "b", "WebhookSecret": SECRET})
    assert code == 1 and "function.zip is missing: run make build" in output


def test_a_real_run_without_credentials_stops_before_any_cloud_call(build_dir, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_sdk(name, *arguments, **options):  # the SDKs are not even loaded
        assert name != "local.deploy_cloud", "the cloud module was imported"
        return real_import(name, *arguments, **options)

    monkeypatch.setattr(builtins, "__import__", no_sdk)
    code, output = run(build_dir, {"REGION": "cn-beijing", "CodeBucket": "b", "WebhookSecret": SECRET}, dry_run=False)
    assert code == 1
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID is not set" in output and "ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set" in output
