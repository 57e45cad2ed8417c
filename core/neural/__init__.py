"""Neural training and prediction (docs/neural.md): scikit-learn networks trained epoch by epoch in one durable
activity, a versioned model registry, and predictions that say which features drove them."""
