"""(being written)"""
from incidents.systems.blueprint import bp  # noqa: F401
