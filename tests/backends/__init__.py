"""The backend contract (contract.py) and each backend's run of it."""
