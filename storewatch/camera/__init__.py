"""The device side: frame sources, durable seq and spool, and the upload client."""
