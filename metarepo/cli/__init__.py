"""The command line: parse, call one capability, render. Nothing imports this package."""
