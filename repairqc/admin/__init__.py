"""Flask-Admin: CRUD generated for every tenant model by walking the model registry."""
