//! Plain-value maths for generation's CPU pass (`inference`) and the fused track mixing:
//! matrix products through `gemm` (the crate candle's own CPU products use), softmax, and
//! this thread's spare buffers.

use std::cell::RefCell;

thread_local! {
    /// Buffers this thread's passes no longer need, for its next ones: a pass at the finest
    /// stage took about 1 MB in a dozen buffers, which the allocator handed back to the
    /// system each time (80 page faults a pass, 8% of its time).
    static SPARE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// `len` zeros, in a spare buffer of this thread where it has one.
pub(super) fn zeros(len: usize) -> Vec<f32> {
    let mut v = SPARE.with_borrow_mut(|s| s.pop()).unwrap_or_default();
    v.clear();
    v.resize(len, 0.0);
    v
}

/// Keeps buffers for this thread's next pass (at most 32).
pub(super) fn recycle<const N: usize>(buffers: [Vec<f32>; N]) {
    SPARE.with_borrow_mut(|s| s.extend(buffers.into_iter().take(32usize.saturating_sub(s.len()))));
}

/// `y [m, n] = x [m, k] w [k, n]`, row-major.
pub(super) fn matmul(x: &[f32], w: &[f32], y: &mut [f32], k: usize, n: usize) {
    let m = x.len() / k;
    assert!(x.len() == m * k && y.len() == m * n, "matmul sizes");
    gemm_into(y, n, View::block(x, 0, m, k), View::block(w, 0, k, n), false);
}

/// A matrix in a slice: `rows x cols` values, `rs` apart down a column, `cs` along a row.
#[derive(Clone, Copy)]
pub(super) struct View<'a> {
    /// The values, from the first.
    data: &'a [f32],
    /// Rows.
    rows: usize,
    /// Columns.
    cols: usize,
    /// Row stride.
    rs: usize,
    /// Column stride.
    cs: usize,
}

impl<'a> View<'a> {
    pub(super) fn new(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        assert!(
            rows > 0 && cols > 0 && (rows - 1) * rs + (cols - 1) * cs < data.len(),
            "a view past its slice"
        );
        Self { data, rows, cols, rs, cs }
    }

    /// `rows x cols` values in order from `at`.
    pub(super) fn block(data: &'a [f32], at: usize, rows: usize, cols: usize) -> Self {
        Self::new(&data[at..], rows, cols, cols, 1)
    }

    /// The transpose, without a copy.
    pub(super) fn t(self) -> Self {
        Self { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs, ..self }
    }
}

/// `dst = lhs rhs`, or `dst += lhs rhs` with `accumulate`, on this thread; `dst` holds its
/// rows `dst_rs` apart.
pub(super) fn gemm_into(dst: &mut [f32], dst_rs: usize, lhs: View, rhs: View, accumulate: bool) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert!(rhs.rows == k && (m - 1) * dst_rs + n <= dst.len() && n <= dst_rs, "product sizes");
    // SAFETY: every view was checked to lie inside its slice, `dst` was checked to hold
    // `m x n` values `dst_rs` apart with rows that do not overlap, and it is borrowed
    // mutably, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

pub(super) fn add(x: &mut [f32], y: &[f32]) {
    x.iter_mut().zip(y).for_each(|(x, y)| *x += y);
}

/// Softmax over the values of `a` and `b` together, in place (masked: negative infinity).
pub(super) fn softmax(a: &mut [f32], b: &mut [f32]) {
    let max = a.iter().chain(b.iter()).copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in a.iter_mut().chain(b.iter_mut()) {
        *v = (*v - max).exp();
        sum += *v;
    }
    a.iter_mut().chain(b.iter_mut()).for_each(|v| *v /= sum);
}
