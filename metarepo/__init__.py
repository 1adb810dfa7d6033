"""metarepo: run a polyrepo microservice fleet as if it were one repository."""

__version__ = "0.1.0"
