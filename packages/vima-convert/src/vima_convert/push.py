"""`push`: upload a dataset folder to the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path

from vima_schema.dataset_card import CARD_FILE
from vima_schema.runner import mark_work_started


class PushError(RuntimeError):
    """The upload cannot start or failed; the message says why."""


def push(dataset: Path, repo_id: str, *, private: bool = False) -> str:
    """Create (if needed) the dataset repo `repo_id` and upload `dataset`; return its URL.

    Fails fast without a token or without network, before any upload starts.
    """
    import huggingface_hub
    from huggingface_hub.errors import HfHubHTTPError

    if not (dataset / CARD_FILE).is_file():
        raise PushError(f"{dataset}: not a dataset folder (no {CARD_FILE}); run build first")
    token = huggingface_hub.get_token()
    if not token:
        raise PushError(
            "no Hugging Face token: set HF_TOKEN or run `huggingface-cli login` before pushing"
        )
    api = huggingface_hub.HfApi(token=token)
    try:
        api.whoami()
    except HfHubHTTPError as error:
        raise PushError(f"the Hugging Face token was rejected: {error}") from None
    except Exception as error:  # connection errors come in many types
        raise PushError(
            f"cannot reach the Hugging Face Hub ({type(error).__name__}: {error})"
        ) from None
    mark_work_started()
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    api.upload_folder(
        repo_id=repo_id,
        repo_type="dataset",
        folder_path=str(dataset),
        ignore_patterns=[".*", "**/.*"],
    )
    return f"https://huggingface.co/datasets/{repo_id}"
