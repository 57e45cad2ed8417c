"""What every StellarFlow process shares: settings, tables, domain models, the DSL and services."""
