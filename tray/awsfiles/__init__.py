"""The AWS tools' own files: the lossless INI editor, the config reader, the credentials
reader/writer (the only code that opens the credentials file) and the lock they take."""
