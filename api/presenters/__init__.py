"""One presenter per API dialect: domain models in, that dialect's bodies out."""
