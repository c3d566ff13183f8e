"""The JSON Schema of the exercise format (written by `tutor schema --write`)."""
