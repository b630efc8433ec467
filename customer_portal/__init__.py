"""The customer portal (/customer/): where a vendor's customer's people see what they pay for."""
