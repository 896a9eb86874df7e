"""Synthetic disaster scenes and whole satellite+ground simulations."""
