"""The virtual hearing-aid test box: ANSI S3.22-style measurements of a prepared graph and their plots."""
