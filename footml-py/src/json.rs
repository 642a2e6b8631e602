//! Values cross the boundary as JSON text, converted by Python's own `json` module.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

fn json_fn<'py>(py: Python<'py>, cell: &'static PyOnceLock<Py<PyAny>>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    cell.get_or_try_init(py, || py.import("json")?.getattr(name).map(Bound::unbind)).map(|f| f.bind(py).clone())
}

/// `json.loads(text)`.
pub(crate) fn loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    json_fn(py, &LOADS, "loads")?.call1((text,))
}

/// `json.dumps(value, default=os.fspath)`: paths (`pathlib.Path`) serialise as strings;
/// anything else JSON cannot represent is a `TypeError`.
pub(crate) fn dumps(value: &Bound<'_, PyAny>) -> PyResult<String> {
    static DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = value.py();
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("default", py.import("os")?.getattr("fspath")?)?;
    json_fn(py, &DUMPS, "dumps")?.call((value,), Some(&kwargs))?.extract()
}
