"""Code shared by every Quality Month Live service: contracts, settings, adapters to real parts."""
