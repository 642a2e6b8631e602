//! footml C ABI.
