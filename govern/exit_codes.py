"""The exit codes of every `govern` command, as CI reads them: 2 (bad input or usage) beats 1 (denied) beats 0."""

EXIT_OK = 0
EXIT_DENIED = 1
EXIT_BAD_INPUT = 2
