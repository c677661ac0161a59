"""Vector stores: files read into chunks (`extract`, `chunking`), embedded on the job queue
(`ingest`), and searched by vector, keyword or both (`search`, `index`, `filters`); the API's
logic is `service`."""
