//! Thin PyO3 layer: convert arguments, call the core, map `BookError` onto `bot.errors`.

// pyo3 0.22's #[pymethods] expansion trips this lint on every PyResult return (PyO3/pyo3#4327).
#![allow(clippy::useless_conversion)]

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString, PyTuple, PyType};

use crate::book::{Book, Level};
use crate::error::{BookError, Side};
use crate::grid::{format_scaled, parse_dec, Grid};

type Levels<T> = (Vec<T>, Vec<T>);

struct ErrorTypes {
    validation: Py<PyType>,
    crossed: Py<PyType>,
    resync: Py<PyType>,
    parse: Py<PyType>,
}

static ERRORS: GILOnceCell<ErrorTypes> = GILOnceCell::new();
static DECIMAL: GILOnceCell<Py<PyAny>> = GILOnceCell::new();

fn error_types(py: Python<'_>) -> PyResult<&ErrorTypes> {
    ERRORS.get_or_try_init(py, || {
        let m = py.import_bound("bot.errors")?;
        let get = |name: &str| -> PyResult<Py<PyType>> {
            Ok(m.getattr(name)?.downcast_into::<PyType>()?.unbind())
        };
        Ok(ErrorTypes {
            validation: get("BookValidationError")?,
            crossed: get("BookCrossed")?,
            resync: get("BookResyncRequired")?,
            parse: get("BookParseError")?,
        })
    })
}

fn decimal_type(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    DECIMAL
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import_bound("decimal")?.getattr("Decimal")?.unbind()))
        .map(|d| d.bind(py))
}

fn dec<'py>(py: Python<'py>, s: &str) -> PyResult<Bound<'py, PyAny>> {
    decimal_type(py)?.call1((s,))
}

/// Build a `bot.errors` exception: `cls(message, **context)`.
fn raise(py: Python<'_>, pick: fn(&ErrorTypes) -> &Py<PyType>, msg: String, ctx: &[(&str, PyObject)]) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let cls = pick(error_types(py)?).bind(py);
        let kwargs = PyDict::new_bound(py);
        for (k, v) in ctx {
            kwargs.set_item(k, v)?;
        }
        Ok(PyErr::from_value_bound(cls.call((msg,), Some(&kwargs))?))
    };
    build().unwrap_or_else(|e| e)
}

fn to_pyerr(py: Python<'_>, e: BookError) -> PyErr {
    let msg = e.to_string();
    match e {
        BookError::InvalidLevel { side, index, .. } => raise(
            py,
            |t| &t.validation,
            msg,
            &[("side", side.as_str().into_py(py)), ("index", index.into_py(py))],
        ),
        BookError::Crossed { .. } => raise(py, |t| &t.crossed, msg, &[]),
        BookError::Resync(r) => raise(py, |t| &t.resync, msg, &[("reason", r.code().into_py(py))]),
        BookError::Parse { pos, .. } => raise(py, |t| &t.parse, msg, &[("pos", pos.into_py(py))]),
    }
}

fn validation(py: Python<'_>, msg: String) -> PyErr {
    raise(py, |t| &t.validation, msg, &[])
}

/// The text of a price/size/step argument: a `str`, or a `Decimal`/`int` via `str()`.
/// Floats (and bools) are refused: money never goes through binary floating point.
fn text_of<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyString>> {
    if let Ok(s) = obj.downcast::<PyString>() {
        return Ok(s.clone());
    }
    let is_int = obj.is_instance_of::<pyo3::types::PyLong>() && !obj.is_instance_of::<pyo3::types::PyBool>();
    if is_int || obj.is_instance(decimal_type(py)?)? {
        return obj.str();
    }
    Err(validation(
        py,
        format!("{what} must be a decimal string (or Decimal/int), got {}", obj.get_type().name()?),
    ))
}

/// The UTF-8 text of a `str` argument; a `str` that has none (a lone surrogate such as
/// `"\ud800"`) is a `BookValidationError` naming `what`, not a `UnicodeEncodeError`.
fn utf8<'a>(py: Python<'_>, s: &'a Bound<'_, PyString>, what: &str) -> PyResult<&'a str> {
    s.to_str()
        .map_err(|_| validation(py, format!("{what} is not valid text (lone surrogate, no UTF-8 form)")))
}

/// Run `f` on the bytes of a raw message: `bytes`, `str` (text frames) or `bytearray`.
fn with_raw<T>(obj: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> T) -> PyResult<T> {
    if let Ok(b) = obj.downcast::<PyBytes>() {
        return Ok(f(b.as_bytes()));
    }
    if let Ok(s) = obj.downcast::<PyString>() {
        let py = obj.py();
        let text = s.to_str().map_err(|_| {
            raise(
                py,
                |t| &t.parse,
                "not a Bybit orderbook message: str is not valid text (lone surrogate, no UTF-8 form)".into(),
                &[("pos", 0usize.into_py(py))],
            )
        })?;
        return Ok(f(text.as_bytes()));
    }
    if let Ok(ba) = obj.downcast::<PyByteArray>() {
        return Ok(f(&ba.to_vec()));
    }
    Err(PyTypeError::new_err("raw message must be bytes, bytearray or str"))
}

/// A small direct-mapped cache of `Decimal` objects by grid units. Prices near the touch
/// repeat on almost every read, so most reads build no `Decimal` at all.
struct DecCache {
    keys: Vec<i64>,
    vals: Vec<Option<Py<PyAny>>>,
}

const DEC_CACHE_SLOTS: usize = 128;

impl DecCache {
    fn new() -> Self {
        DecCache { keys: vec![i64::MIN; DEC_CACHE_SLOTS], vals: (0..DEC_CACHE_SLOTS).map(|_| None).collect() }
    }

    #[inline]
    fn get<'py>(&mut self, py: Python<'py>, grid: &Grid, units: i64, buf: &mut String) -> PyResult<Bound<'py, PyAny>> {
        // rem_euclid keeps negative units (spreads, never levels) in range.
        let slot = units.rem_euclid(DEC_CACHE_SLOTS as i64) as usize;
        if self.keys[slot] == units {
            if let Some(v) = &self.vals[slot] {
                return Ok(v.bind(py).clone());
            }
        }
        grid.format_into(units, buf);
        let v = dec(py, buf)?;
        self.keys[slot] = units;
        self.vals[slot] = Some(v.clone().unbind());
        Ok(v)
    }
}

/// An L2 order book on integer ticks and lots (see `bot/book/_native.pyi`).
#[pyclass(module = "bot.book._native", name = "OrderBook")]
pub struct OrderBook {
    book: Book,
    tick_dec: Py<PyAny>,
    lot_dec: Py<PyAny>,
    bid_cache: Option<(Level, Py<PyTuple>)>,
    ask_cache: Option<(Level, Py<PyTuple>)>,
    prices: DecCache,
    sizes: DecCache,
    fmt: String,
}

impl OrderBook {
    fn read_levels(&self, py: Python<'_>, side: Side, obj: &Bound<'_, PyAny>, out: &mut Vec<Level>) -> PyResult<()> {
        out.clear();
        if let Ok(list) = obj.downcast::<PyList>() {
            for (i, item) in list.iter().enumerate() {
                out.push(self.read_level(py, side, i, &item)?);
            }
        } else {
            for (i, item) in obj.iter()?.enumerate() {
                out.push(self.read_level(py, side, i, &item?)?);
            }
        }
        Ok(())
    }

    fn read_level(&self, py: Python<'_>, side: Side, index: usize, item: &Bound<'_, PyAny>) -> PyResult<Level> {
        let shape = || validation(py, format!("{side} level {index}: expected a [price, size] pair"));
        let (p, s) = if let Ok(l) = item.downcast::<PyList>() {
            if l.len() != 2 {
                return Err(shape());
            }
            (l.get_item(0)?, l.get_item(1)?)
        } else if let Ok(t) = item.downcast::<PyTuple>() {
            if t.len() != 2 {
                return Err(shape());
            }
            (t.get_item(0)?, t.get_item(1)?)
        } else {
            return Err(shape());
        };
        let ps = text_of(py, &p, "price")?;
        let ss = text_of(py, &s, "size")?;
        let (Ok(pt), Ok(st)) = (ps.to_str(), ss.to_str()) else {
            return Err(raise(
                py,
                |t| &t.validation,
                format!("{side} level {index}: price or size is not valid text (lone surrogate, no UTF-8 form)"),
                &[("side", side.as_str().into_py(py)), ("index", index.into_py(py))],
            ));
        };
        self.book.convert_level(side, index, pt.as_bytes(), st.as_bytes()).map_err(|e| to_pyerr(py, e))
    }

    fn price_dec<'py>(&mut self, py: Python<'py>, ticks: i64) -> PyResult<Bound<'py, PyAny>> {
        let tick = *self.book.tick();
        self.prices.get(py, &tick, ticks, &mut self.fmt)
    }

    fn size_dec<'py>(&mut self, py: Python<'py>, lots: i64) -> PyResult<Bound<'py, PyAny>> {
        let lot = *self.book.lot();
        self.sizes.get(py, &lot, lots, &mut self.fmt)
    }

    fn level_tuple(&mut self, py: Python<'_>, l: Level) -> PyResult<Py<PyTuple>> {
        let p = self.price_dec(py, l.price)?;
        let s = self.size_dec(py, l.size)?;
        Ok(PyTuple::new_bound(py, [p, s]).unbind())
    }

    fn best_cached(&mut self, py: Python<'_>, side: Side) -> PyResult<Option<Py<PyTuple>>> {
        let level = match side {
            Side::Bid => self.book.best_bid(),
            Side::Ask => self.book.best_ask(),
        };
        let Some(l) = level else { return Ok(None) };
        let cache = match side {
            Side::Bid => &self.bid_cache,
            Side::Ask => &self.ask_cache,
        };
        if let Some((cl, t)) = cache {
            if *cl == l {
                return Ok(Some(t.clone_ref(py)));
            }
        }
        let t = self.level_tuple(py, l)?;
        let slot = match side {
            Side::Bid => &mut self.bid_cache,
            Side::Ask => &mut self.ask_cache,
        };
        *slot = Some((l, t.clone_ref(py)));
        Ok(Some(t))
    }

    fn ratio_dec<'py>(&self, py: Python<'py>, num_ticks_scaled: i128, den: i128) -> PyResult<Bound<'py, PyAny>> {
        // (num * tick) / den with Python's decimal context (28 significant digits).
        let tick = self.book.tick();
        let num = num_ticks_scaled
            .checked_mul(i128::from(tick.mantissa()))
            .ok_or_else(|| validation(py, "overflow".into()))?;
        let n = dec(py, &format_scaled(num, tick.scale()))?;
        n.call_method1("__truediv__", (dec(py, &den.to_string())?,))
    }

    fn top_result(&self, py: Python<'_>, resync: bool) -> PyObject {
        let b = self.book.best_bid();
        let a = self.book.best_ask();
        (
            b.map(|l| l.price),
            b.map(|l| l.size),
            a.map(|l| l.price),
            a.map(|l| l.size),
            self.book.update_id(),
            resync,
        )
            .into_py(py)
    }

    /// Apply a raw message; Ok(resync_needed) for sequence trouble, Err for bad input.
    fn apply_raw_inner(&mut self, py: Python<'_>, raw: &Bound<'_, PyAny>) -> PyResult<bool> {
        match with_raw(raw, |b| self.book.apply_message(b))? {
            Ok(_) => Ok(self.book.resync_reason().is_some()),
            Err(BookError::Resync(_)) | Err(BookError::Crossed { in_delta: true, .. }) => Ok(true),
            Err(e) => Err(to_pyerr(py, e)),
        }
    }
}

#[pymethods]
impl OrderBook {
    #[new]
    #[pyo3(signature = (tick_size, lot_size, depth = 0))]
    fn new(py: Python<'_>, tick_size: &Bound<'_, PyAny>, lot_size: &Bound<'_, PyAny>, depth: usize) -> PyResult<Self> {
        let parse = |obj: &Bound<'_, PyAny>, what: &str| -> PyResult<Grid> {
            let t = text_of(py, obj, what)?;
            let s = utf8(py, &t, what)?;
            Grid::parse(s).map_err(|_| validation(py, format!("{what} {s:?} is not a positive decimal")))
        };
        let tick = parse(tick_size, "tick_size")?;
        let lot = parse(lot_size, "lot_size")?;
        Ok(OrderBook {
            tick_dec: dec(py, &tick.step_str())?.unbind(),
            lot_dec: dec(py, &lot.step_str())?.unbind(),
            book: Book::new(tick, lot, depth),
            bid_cache: None,
            ask_cache: None,
            prices: DecCache::new(),
            sizes: DecCache::new(),
            fmt: String::with_capacity(32),
        })
    }

    #[pyo3(signature = (bids, asks, update_id = None, seq = None))]
    fn apply_snapshot(
        &mut self,
        py: Python<'_>,
        bids: &Bound<'_, PyAny>,
        asks: &Bound<'_, PyAny>,
        update_id: Option<u64>,
        seq: Option<u64>,
    ) -> PyResult<()> {
        let mut b = std::mem::take(&mut self.book.scratch_bids);
        let mut a = std::mem::take(&mut self.book.scratch_asks);
        let res = self
            .read_levels(py, Side::Bid, bids, &mut b)
            .and_then(|()| self.read_levels(py, Side::Ask, asks, &mut a))
            .and_then(|()| self.book.apply_snapshot(&b, &a, update_id, seq).map_err(|e| to_pyerr(py, e)));
        self.book.scratch_bids = b;
        self.book.scratch_asks = a;
        res
    }

    #[pyo3(signature = (bids, asks, update_id = None, seq = None))]
    fn apply_delta(
        &mut self,
        py: Python<'_>,
        bids: &Bound<'_, PyAny>,
        asks: &Bound<'_, PyAny>,
        update_id: Option<u64>,
        seq: Option<u64>,
    ) -> PyResult<bool> {
        let mut b = std::mem::take(&mut self.book.scratch_bids);
        let mut a = std::mem::take(&mut self.book.scratch_asks);
        let res = self
            .read_levels(py, Side::Bid, bids, &mut b)
            .and_then(|()| self.read_levels(py, Side::Ask, asks, &mut a))
            .and_then(|()| {
                self.book
                    .apply_delta(&b, &a, update_id, seq)
                    .map(|o| o == crate::book::DeltaOutcome::Applied)
                    .map_err(|e| to_pyerr(py, e))
            });
        self.book.scratch_bids = b;
        self.book.scratch_asks = a;
        res
    }

    fn apply_message(&mut self, py: Python<'_>, raw: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        let resync = self.apply_raw_inner(py, raw)?;
        Ok(self.top_result(py, resync))
    }

    fn apply_raw(&mut self, py: Python<'_>, raw: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.apply_raw_inner(py, raw)
    }

    fn best_bid(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyTuple>>> {
        self.best_cached(py, Side::Bid)
    }

    fn best_ask(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyTuple>>> {
        self.best_cached(py, Side::Ask)
    }

    fn best_bid_price<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.book.best_bid() {
            Some(l) => self.price_dec(py, l.price).map(Some),
            None => Ok(None),
        }
    }

    fn best_ask_price<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.book.best_ask() {
            Some(l) => self.price_dec(py, l.price).map(Some),
            None => Ok(None),
        }
    }

    fn best_bid_ticks(&self) -> Option<i64> {
        self.book.best_bid().map(|l| l.price)
    }

    fn best_ask_ticks(&self) -> Option<i64> {
        self.book.best_ask().map(|l| l.price)
    }

    fn bbo_ticks(&self) -> (Option<i64>, Option<i64>, Option<i64>, Option<i64>) {
        let b = self.book.best_bid();
        let a = self.book.best_ask();
        (b.map(|l| l.price), b.map(|l| l.size), a.map(|l| l.price), a.map(|l| l.size))
    }

    fn mid<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(m2) = self.book.mid_x2() else { return Ok(None) };
        let tick = self.book.tick();
        let overflow = || validation(py, "mid overflows".into());
        let v = m2.checked_mul(i128::from(tick.mantissa())).ok_or_else(overflow)?;
        let s = if v % 2 == 0 {
            format_scaled(v / 2, tick.scale())
        } else {
            format_scaled(v.checked_mul(5).ok_or_else(overflow)?, tick.scale() + 1)
        };
        dec(py, &s).map(Some)
    }

    fn spread<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(t) = self.book.spread_ticks() else { return Ok(None) };
        dec(py, &self.book.tick().format(t)).map(Some)
    }

    fn spread_ticks(&self) -> Option<i64> {
        self.book.spread_ticks()
    }

    fn microprice<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some((num, den)) = self.book.microprice_ratio() else { return Ok(None) };
        self.ratio_dec(py, num, den).map(Some)
    }

    #[pyo3(signature = (n = 5))]
    fn top(&mut self, py: Python<'_>, n: usize) -> PyResult<Levels<Py<PyTuple>>> {
        let (b, a) = self.book.top(n);
        let mut conv = |v: Vec<Level>| -> PyResult<Vec<Py<PyTuple>>> {
            v.into_iter().map(|l| self.level_tuple(py, l)).collect()
        };
        Ok((conv(b)?, conv(a)?))
    }

    #[pyo3(signature = (n = 5))]
    fn top_ticks(&self, n: usize) -> Levels<(i64, i64)> {
        let (b, a) = self.book.top(n);
        let f = |v: Vec<Level>| v.into_iter().map(|l| (l.price, l.size)).collect();
        (f(b), f(a))
    }

    fn depth_within_bps<'py>(&mut self, py: Python<'py>, bps: &Bound<'py, PyAny>) -> PyResult<Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
        let t = text_of(py, bps, "bps")?;
        let s = utf8(py, &t, "bps")?;
        let d = parse_dec(s.as_bytes()).map_err(|_| validation(py, format!("bps {s:?} is not a non-negative decimal")))?;
        let num = i128::try_from(d.mantissa).map_err(|_| validation(py, "bps too large".into()))?;
        let den = 10i128.pow(d.scale);
        let Some((b, a)) = self.book.depth_within_bps(num, den) else { return Ok(None) };
        let lot = *self.book.lot();
        let f = |x: i128| format_scaled(x * i128::from(lot.mantissa()), lot.scale());
        Ok(Some((dec(py, &f(b))?, dec(py, &f(a))?)))
    }

    #[pyo3(signature = (levels = 1))]
    fn imbalance<'py>(&self, py: Python<'py>, levels: usize) -> PyResult<Option<Bound<'py, PyAny>>> {
        let (b, a) = self.book.sizes_top(levels);
        if b + a == 0 {
            return Ok(None);
        }
        dec(py, &(b - a).to_string())?
            .call_method1("__truediv__", (dec(py, &(b + a).to_string())?,))
            .map(Some)
    }

    fn vwap<'py>(&self, py: Python<'py>, side: &str, qty: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let book_side = match side.to_ascii_lowercase().as_str() {
            "buy" => Side::Ask,
            "sell" => Side::Bid,
            _ => return Err(validation(py, format!("side must be \"Buy\" or \"Sell\", got {side:?}"))),
        };
        let t = text_of(py, qty, "qty")?;
        let s = utf8(py, &t, "qty")?;
        let lots = self
            .book
            .lot()
            .to_units(s.as_bytes())
            .map_err(|p| validation(py, format!("qty {s:?} {}", p.describe())))?;
        let Some((cost, q)) = self.book.fill_cost(book_side, lots) else { return Ok(None) };
        self.ratio_dec(py, cost, q).map(Some)
    }

    fn level_counts(&self) -> (usize, usize) {
        self.book.level_counts()
    }

    fn price_of<'py>(&mut self, py: Python<'py>, ticks: i64) -> PyResult<Bound<'py, PyAny>> {
        self.price_dec(py, ticks)
    }

    fn size_of<'py>(&mut self, py: Python<'py>, lots: i64) -> PyResult<Bound<'py, PyAny>> {
        self.size_dec(py, lots)
    }

    fn ticks_of(&self, py: Python<'_>, price: &Bound<'_, PyAny>) -> PyResult<i64> {
        let t = text_of(py, price, "price")?;
        let s = utf8(py, &t, "price")?;
        self.book
            .tick()
            .to_units(s.as_bytes())
            .map_err(|p| validation(py, format!("price {s:?} {}", p.describe())))
    }

    fn lots_of(&self, py: Python<'_>, size: &Bound<'_, PyAny>) -> PyResult<i64> {
        let t = text_of(py, size, "size")?;
        let s = utf8(py, &t, "size")?;
        self.book
            .lot()
            .to_units(s.as_bytes())
            .map_err(|p| validation(py, format!("size {s:?} {}", p.describe())))
    }

    fn clear(&mut self) {
        self.book.clear();
    }

    #[getter]
    fn update_id(&self) -> u64 {
        self.book.update_id()
    }

    #[getter]
    fn seq(&self) -> u64 {
        self.book.seq()
    }

    #[getter]
    fn has_snapshot(&self) -> bool {
        self.book.has_snapshot()
    }

    #[getter]
    fn resync_needed(&self) -> bool {
        self.book.resync_reason().is_some()
    }

    #[getter]
    fn resync_reason(&self) -> Option<&'static str> {
        self.book.resync_reason().map(|r| r.code())
    }

    #[getter]
    fn depth(&self) -> usize {
        self.book.depth()
    }

    #[getter]
    fn tick_size(&self, py: Python<'_>) -> Py<PyAny> {
        self.tick_dec.clone_ref(py)
    }

    #[getter]
    fn lot_size(&self, py: Python<'_>) -> Py<PyAny> {
        self.lot_dec.clone_ref(py)
    }

    /// The Rust-side bytes (book, vectors, the Decimal caches' slots); the cached Decimal
    /// objects themselves are ordinary Python objects counted by the interpreter.
    fn __sizeof__(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.book.heap_bytes()
            + 2 * DEC_CACHE_SLOTS * (std::mem::size_of::<i64>() + std::mem::size_of::<Option<Py<PyAny>>>())
            + self.fmt.capacity()
    }

    fn __repr__(&self) -> String {
        let (nb, na) = self.book.level_counts();
        let fmt = |l: Option<Level>| l.map_or_else(|| "None".to_string(), |l| self.book.tick().format(l.price));
        format!(
            "OrderBook(tick_size={}, lot_size={}, depth={}, bids={nb}, asks={na}, best_bid={}, best_ask={}, update_id={})",
            self.book.tick().step_str(),
            self.book.lot().step_str(),
            self.book.depth(),
            fmt(self.book.best_bid()),
            fmt(self.book.best_ask()),
            self.book.update_id(),
        )
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", crate::VERSION)?;
    m.add_class::<OrderBook>()?;
    Ok(())
}
