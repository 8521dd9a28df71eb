"""Artifacts only through the server, for clients that cannot reach the artifact store.

MLflow 3.17 tells its clients in /api/3.0/mlflow/server-info that multipart uploads and
downloads are enabled whenever the store supports them (S3 does, MinIO through it):
mlflow/server/handlers.py build_server_info_payload sets multipart_uploads_enabled /
multipart_downloads_enabled from isinstance(repo, MultipartUploadMixin / MultipartDownloadMixin).
A client that did not set MLFLOW_ENABLE_PROXY_MULTIPART_* itself then asks the server for
presigned URLs and talks to the store directly (mlflow/store/artifact/mlflow_artifacts_repo.py
_is_multipart_download_enabled, _download_file): on the local stack those URLs name
http://minio:9000, which only the private Docker network resolves, and the client retries for
minutes. The kit promises that artifacts go through the server on every target, so the server
says both are off; the client then streams uploads and downloads through the server.

Imported by the app the server serves (bounded_auth for basic auth, `app` below otherwise).
"""

import mlflow.server.handlers as _handlers
import mlflow.server.server_info_api as _server_info_api

_build_server_info_payload = _handlers.build_server_info_payload


def build_server_info_payload():
    info = _build_server_info_payload()
    info["multipart_uploads_enabled"] = False
    info["multipart_downloads_enabled"] = False
    return info


# Both routes call the module-level name at request time: the Flask handler
# (handlers._get_server_info) and the native FastAPI route (server_info_api.get_server_info,
# which imported the name): replace it in both modules.
_handlers.build_server_info_payload = build_server_info_payload
_server_info_api.build_server_info_payload = build_server_info_payload

from mlflow.server.fastapi_app import app  # noqa: E402  (after the patch, on purpose)

import lean_middleware  # noqa: E402

# Served as is without the auth app: MLflow's middlewares skipped where they only pass on.
lean_middleware.apply(app)

__all__ = ["app", "build_server_info_payload"]
