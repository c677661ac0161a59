"""Uploaded files (`/v1/files`): where their bytes live (`storage.py`: the database, or a
directory on one machine) and how a `file_id` in a response's input becomes the bytes the
upstream sees (`parts.py`). Imports the store and the errors; nothing here imports FastAPI."""
