"""Uploaded files (SOP attachments), stored in the tenant's own schema."""
