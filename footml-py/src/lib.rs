//! footml Python bindings.
