//! Shifted-window partition and its inverse (Swin's `window_partition` after `torch.roll`, and
//! `window_reverse` before rolling back), each one parallel copy on `burn-flex`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use burn_flex::{Flex, FlexTensor};

use super::flex::{AutodiffFlexTensor, Sorted, copy, filled, from_autodiff, from_flex, values};

/// The windows of a `[batch, height, width, channels]` grid, after rolling it by `−shift`
/// along height and width (timm's `torch.roll(x, (−shift, −shift), (1, 2))`, Burn's
/// `roll(&[shift, shift], &[1, 2])`): window `(b, row, col)`, token `dy · window + dx` holds
/// the grid's pixel `(b, (row · window + dy + shift) mod height, (col · window + dx + shift) mod
/// width)`. [`window_merge`] is its inverse.
///
/// On `burn-flex` (and `Autodiff<Flex>`, whose backward pass is [`window_merge`] of the
/// gradient) this is one parallel copy of whole pixels; burn-flex 0.21 would roll with two
/// concatenations and copy the permuted windows element by element, on one thread. Elsewhere
/// it is Burn's `roll`, `reshape` and `permute`.
///
/// # Shapes
/// - grid: `[batch, height, width, channels]`, `height` and `width` multiples of `window`
/// - output: `[batch · (height / window) · (width / window), window², channels]`
///
/// # Panics
/// When `window` is zero or does not divide `height` and `width`, or `shift ≥ window` (Swin
/// pads the grid to whole windows first, and shifts by half a window).
///
/// ```
/// use burn::prelude::*;
///
/// type B = burn_flex::Flex;
/// // A 4 × 4 grid whose pixel (y, x) holds 10·y + x, in windows of 2, shifted by 1.
/// let cells: Vec<f32> = (0..4).flat_map(|y| (0..4).map(move |x| (10 * y + x) as f32)).collect();
/// let grid = Tensor::<B, 4>::from_data(TensorData::new(cells, [1, 4, 4, 1]), &Default::default());
/// let windows = pela::ops::window_partition(grid.clone(), 2, 1);
/// assert_eq!(windows.dims(), [4, 4, 1]);
/// // The last window wraps around: rows 3 and 0, columns 3 and 0.
/// let last: Vec<f32> = windows.clone().narrow(0, 3, 1).into_data().to_vec().unwrap();
/// assert_eq!(last, [33.0, 30.0, 3.0, 0.0]);
/// pela::ops::window_merge(windows, 2, 1, [4, 4]).into_data().assert_eq(&grid.into_data(), true);
/// ```
pub fn window_partition<B: Backend>(
    grid: Tensor<B, 4>,
    window: usize,
    shift: usize,
) -> Tensor<B, 3> {
    let [batch, height, width, channels] = grid.dims();
    let geometry = Geometry::new(
        "window_partition",
        [batch, height, width, channels],
        window,
        shift,
    );
    match Sorted::of(grid) {
        Sorted::Flex(grid) => from_flex(geometry.partition(&grid)),
        Sorted::Autodiff(grid) => from_autodiff(geometry.partition_autodiff(grid)),
        Sorted::Other(grid) => {
            let back = shift as i64;
            let grid = if shift > 0 {
                grid.roll(&[back, back], &[1, 2])
            } else {
                grid
            };
            let [rows, cols] = geometry.windows();
            grid.reshape([batch, rows, window, cols, window, channels])
                .permute([0, 1, 3, 2, 4, 5])
                .reshape(geometry.windows_shape())
        }
    }
}

/// The `[batch, height, width, channels]` grid whose windows are `windows`, rolled back by
/// `shift`: the inverse of [`window_partition`] (timm's `window_reverse`, then `torch.roll(x,
/// (shift, shift), (1, 2))`), with the same kernels.
///
/// # Shapes
/// - windows: `[batch · (height / window) · (width / window), window², channels]`
/// - output: `[batch, height, width, channels]`
///
/// # Panics
/// As [`window_partition`], and when the windows do not tile `[height, width]`.
///
/// ```
/// use burn::prelude::*;
///
/// type B = burn_flex::Flex;
/// let windows = Tensor::<B, 3>::ones([2 * 4, 9, 5], &Default::default());
/// assert_eq!(pela::ops::window_merge(windows, 3, 1, [6, 6]).dims(), [2, 6, 6, 5]);
/// ```
pub fn window_merge<B: Backend>(
    windows: Tensor<B, 3>,
    window: usize,
    shift: usize,
    [height, width]: [usize; 2],
) -> Tensor<B, 4> {
    let [n_windows, area, channels] = windows.dims();
    let mut geometry = Geometry::new("window_merge", [0, height, width, channels], window, shift);
    let [rows, cols] = geometry.windows();
    assert!(
        area == window * window && rows * cols > 0 && n_windows % (rows * cols) == 0,
        "window_merge: {n_windows} windows of {area} tokens do not tile a {height} × {width} grid \
         in windows of {window}"
    );
    geometry.batch = n_windows / (rows * cols);
    match Sorted::of(windows) {
        Sorted::Flex(windows) => from_flex(geometry.merge(&windows)),
        Sorted::Autodiff(windows) => from_autodiff(geometry.merge_autodiff(windows)),
        Sorted::Other(windows) => {
            let grid = windows
                .reshape([geometry.batch, rows, cols, window, window, channels])
                .permute([0, 1, 3, 2, 4, 5])
                .reshape(geometry.grid_shape());
            if shift > 0 {
                let back = shift as i64;
                grid.roll(&[-back, -back], &[1, 2])
            } else {
                grid
            }
        }
    }
}

/// A grid's shape and its windows: what both copies, and their backward passes, need.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    batch: usize,
    height: usize,
    width: usize,
    channels: usize,
    window: usize,
    shift: usize,
}

impl Geometry {
    /// The geometry of `op`'s grid; panics, naming `op`, when the windows do not tile it.
    fn new(
        op: &str,
        [batch, height, width, channels]: [usize; 4],
        window: usize,
        shift: usize,
    ) -> Self {
        assert!(
            window > 0 && height % window == 0 && width % window == 0,
            "{op}: windows of {window} do not tile a {height} × {width} grid (pad it to whole \
             windows first)"
        );
        assert!(
            shift < window,
            "{op}: a shift of {shift} is not less than the window, {window}"
        );
        Self {
            batch,
            height,
            width,
            channels,
            window,
            shift,
        }
    }

    /// The first element of grid pixel `(b, y, x)`, after rolling by `−shift`.
    #[inline(always)]
    fn pixel(&self, b: usize, y: usize, x: usize) -> usize {
        let y = (y + self.shift) % self.height;
        let x = (x + self.shift) % self.width;
        ((b * self.height + y) * self.width + x) * self.channels
    }

    /// `[rows, cols]`: the windows along height and width.
    fn windows(&self) -> [usize; 2] {
        [self.height / self.window, self.width / self.window]
    }

    fn grid_shape(&self) -> [usize; 4] {
        [self.batch, self.height, self.width, self.channels]
    }

    fn windows_shape(&self) -> [usize; 3] {
        let [rows, cols] = self.windows();
        [
            self.batch * rows * cols,
            self.window * self.window,
            self.channels,
        ]
    }

    /// [`window_partition`] of a `burn-flex` tensor: each task copies one token row of one
    /// window (`window` pixels).
    fn partition(&self, grid: &FlexTensor) -> FlexTensor {
        let grid = grid.clone().to_contiguous();
        let source = values(&grid);
        let [rows, cols] = self.windows();
        let (window, channels) = (self.window, self.channels);
        filled(
            self.windows_shape().into(),
            window * channels,
            |task, out| {
                // Task = (window index, dy); window index = (b · rows + row) · cols + col.
                let (index, dy) = (task / window, task % window);
                let (b, row, col) = (index / (rows * cols), index / cols % rows, index % cols);
                for (dx, pixel) in out.chunks_exact_mut(channels).enumerate() {
                    let from = self.pixel(b, row * window + dy, col * window + dx);
                    copy(&source[from..from + channels], pixel);
                }
            },
        )
    }

    /// [`window_merge`] of a `burn-flex` tensor: each task fills one row of the grid.
    fn merge(&self, windows: &FlexTensor) -> FlexTensor {
        let windows = windows.clone().to_contiguous();
        let source = values(&windows);
        let [rows, cols] = self.windows();
        let (window, channels) = (self.window, self.channels);
        let unshift = |i: usize, side: usize| (i + side - self.shift) % side;
        filled(
            self.grid_shape().into(),
            self.width * channels,
            |task, out| {
                let (b, y) = (task / self.height, task % self.height);
                let y = unshift(y, self.height);
                let (row, dy) = (y / window, y % window);
                for (x, pixel) in out.chunks_exact_mut(channels).enumerate() {
                    let x = unshift(x, self.width);
                    let (col, dx) = (x / window, x % window);
                    let index = (b * rows + row) * cols + col;
                    let from = (index * window * window + dy * window + dx) * channels;
                    copy(&source[from..from + channels], pixel);
                }
            },
        )
    }

    fn partition_autodiff(self, grid: AutodiffFlexTensor) -> AutodiffFlexTensor {
        match PartitionBackward
            .prepare::<NoCheckpointing>([grid.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(self, self.partition(&grid.primitive)),
            OpsKind::UnTracked(prep) => prep.finish(self.partition(&grid.primitive)),
        }
    }

    fn merge_autodiff(self, windows: AutodiffFlexTensor) -> AutodiffFlexTensor {
        match MergeBackward
            .prepare::<NoCheckpointing>([windows.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(self, self.merge(&windows.primitive)),
            OpsKind::UnTracked(prep) => prep.finish(self.merge(&windows.primitive)),
        }
    }
}

/// The partition's step of the backward pass: the gradient's windows merged back.
#[derive(Debug)]
struct PartitionBackward;

impl Backward<Flex, 1> for PartitionBackward {
    type State = Geometry;

    fn backward(self, ops: Ops<Geometry, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let geometry = ops.state;
        unary::<Flex, _>(ops.parents, ops.node, grads, |grad| geometry.merge(&grad));
    }
}

/// The merge's step of the backward pass: the gradient partitioned again.
#[derive(Debug)]
struct MergeBackward;

impl Backward<Flex, 1> for MergeBackward {
    type State = Geometry;

    fn backward(self, ops: Ops<Geometry, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let geometry = ops.state;
        unary::<Flex, _>(ops.parents, ops.node, grads, |grad| {
            geometry.partition(&grad)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::seeded_pair as pair;

    type NdArray = burn_ndarray::NdArray<f32>;

    #[test]
    fn the_kernels_copy_what_burns_roll_reshape_and_permute_give() {
        for (shape, window, shift, seed) in [
            ([2, 6, 9, 5], 3, 1, 1),
            ([1, 14, 14, 8], 7, 3, 2),
            ([3, 4, 8, 2], 2, 0, 3),
            ([1, 7, 7, 4], 7, 0, 4),
        ] {
            let (flex, ndarray) = pair(shape, seed);
            let windows = window_partition(flex, window, shift);
            let expected = window_partition(ndarray.clone(), window, shift);
            windows.to_data().assert_eq(&expected.to_data(), true);
            let [_, height, width, _] = shape;
            let grid = window_merge(windows, window, shift, [height, width]);
            grid.into_data()
                .assert_eq(&ndarray.clone().into_data(), true);
            let merged = window_merge(expected, window, shift, [height, width]);
            merged.into_data().assert_eq(&ndarray.into_data(), true);
        }
    }

    #[test]
    fn the_kernels_read_a_view() {
        // A grid that is a transposed view: the kernel copies it contiguous first.
        let (flex, ndarray) = pair([2, 6, 6, 3], 5);
        let (flex, ndarray) = (flex.swap_dims(1, 2), ndarray.swap_dims(1, 2));
        window_partition(flex, 3, 1)
            .into_data()
            .assert_eq(&window_partition(ndarray, 3, 1).into_data(), true);
    }

    #[test]
    fn the_backward_passes_are_burns() {
        type Ad<B> = burn::backend::Autodiff<B>;
        let (flex, ndarray) = pair([2, 6, 9, 4], 6);
        let weights = pair([1, 9, 4, 1], 7);
        let flex = Tensor::<Ad<Flex>, 4>::from_inner(flex).require_grad();
        let ndarray = Tensor::<Ad<NdArray>, 4>::from_inner(ndarray).require_grad();
        // A loss that weighs every window token differently, through partition and merge.
        let loss = |windows: Tensor<Ad<Flex>, 3>| -> Tensor<Ad<Flex>, 1> {
            let w = Tensor::<Ad<Flex>, 4>::from_inner(weights.0.clone()).reshape([1, 9, 4]);
            (window_merge(windows * w, 3, 1, [6, 9]).powi_scalar(2)).sum()
        };
        let loss_ref = |windows: Tensor<Ad<NdArray>, 3>| -> Tensor<Ad<NdArray>, 1> {
            let w = Tensor::<Ad<NdArray>, 4>::from_inner(weights.1.clone()).reshape([1, 9, 4]);
            (window_merge(windows * w, 3, 1, [6, 9]).powi_scalar(2)).sum()
        };
        let grads = loss(window_partition(flex.clone(), 3, 1)).backward();
        let grads_ref = loss_ref(window_partition(ndarray.clone(), 3, 1)).backward();
        flex.grad(&grads)
            .unwrap()
            .into_data()
            .assert_approx_eq::<f32>(
                &ndarray.grad(&grads_ref).unwrap().into_data(),
                burn::tensor::Tolerance::absolute(1e-5),
            );
    }

    #[test]
    #[should_panic(expected = "do not tile a 6 × 7 grid")]
    fn a_grid_of_partial_windows_is_refused() {
        let (flex, _) = pair([1, 6, 7, 2], 8);
        window_partition(flex, 3, 1);
    }
}
