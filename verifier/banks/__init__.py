from verifier.banks.loader import Bank, load_bank

__all__ = ["Bank", "load_bank"]
