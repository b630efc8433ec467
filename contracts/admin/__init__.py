"""Django admin for the contracts app: an operator's view that never bypasses the domain.

Writes that have a service go through it (with the operator as the audit actor), and forms
validate with the same terms models as the API. What must stay immutable is read-only here:
the audit log, credentials' secrets, locked contract versions, and a contract's status (moved
only by the transition actions). A module per model group registers its admins: tenancy (vendors,
members, customers), credentials, contracts, versions (with their outcome types), audit.
"""

from contracts.admin import audit, contracts, credentials, tenancy, versions

__all__ = ["audit", "contracts", "credentials", "tenancy", "versions"]
