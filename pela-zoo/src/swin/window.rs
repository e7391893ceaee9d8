//! Windows over a token grid: the relative position index and the attention mask of shifted
//! windows, as timm's `swin_transformer.py` computes them. Partitioning a grid into windows and
//! merging it back are `pela::ops::window_partition` and `window_merge`.

use burn::prelude::*;

/// For every pair of tokens of a `window × window` window, the row of the relative position
/// bias table that holds their bias: `(Δy + w − 1) · (2w − 1) + (Δx + w − 1)`, flattened
/// (timm's `get_relative_position_index`, the buffer `relative_position_index` of the
/// checkpoints).
///
/// # Shapes
/// - output: `[window⁴]`, row-major over `[window², window²]`
///
/// ```
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::swin::window::relative_position_index;
///
/// let index = relative_position_index::<Cpu>(2, &CpuDevice::default());
/// // Tokens (0,0), (0,1), (1,0), (1,1); the table has 3 × 3 rows, (0, 0) at row 4.
/// assert_eq!(
///     index.into_data().to_vec::<i64>().unwrap(),
///     [4, 3, 1, 0, 5, 4, 2, 1, 7, 6, 4, 3, 8, 7, 5, 4]
/// );
/// ```
pub fn relative_position_index<B: Backend>(window: usize, device: &B::Device) -> Tensor<B, 1, Int> {
    let area = window * window;
    let side = 2 * window as i64 - 1;
    let mut index = Vec::with_capacity(area * area);
    for a in 0..area {
        for b in 0..area {
            let dy = (a / window) as i64 - (b / window) as i64 + window as i64 - 1;
            let dx = (a % window) as i64 - (b % window) as i64 + window as i64 - 1;
            index.push(dy * side + dx);
        }
    }
    Tensor::from_data(TensorData::new(index, [area * area]), device)
}

/// The additive attention mask of shifted windows over a `[height, width]` grid (already
/// padded to whole windows): 0 between tokens that were neighbours before the cyclic shift,
/// −100 between tokens the shift brought together from opposite borders (timm's
/// `get_attn_mask`, the buffer `attn_mask` of the checkpoints).
///
/// # Shapes
/// - output: `[(height / window) · (width / window), window², window²]`
pub fn shift_mask<B: Backend>(
    [height, width]: [usize; 2],
    window: usize,
    shift: usize,
    device: &B::Device,
) -> Tensor<B, 3> {
    // The region of a coordinate along one axis: before the last window, in the last window
    // but before the shift, or in the shifted strip.
    let region = |i: usize, side: usize| {
        if i < side - window {
            0
        } else if i < side - shift {
            1
        } else {
            2
        }
    };
    let (rows, cols) = (height / window, width / window);
    let area = window * window;
    let mut mask = Vec::with_capacity(rows * cols * area * area);
    for row in 0..rows {
        for col in 0..cols {
            let label = |token: usize| {
                let (y, x) = (row * window + token / window, col * window + token % window);
                3 * region(y, height) + region(x, width)
            };
            for a in 0..area {
                for b in 0..area {
                    mask.push(if label(a) == label(b) { 0.0f32 } else { -100.0 });
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(mask, [rows * cols, area, area]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Cpu, CpuDevice};
    use pela::ops::{window_merge, window_partition};

    #[test]
    fn merge_inverts_partition() {
        let device = CpuDevice::default();
        let grid =
            Tensor::<Cpu, 4>::random([2, 6, 9, 5], burn::tensor::Distribution::Default, &device);
        let windows = window_partition(grid.clone(), 3, 0);
        assert_eq!(windows.dims(), [2 * 2 * 3, 9, 5]);
        window_merge(windows, 3, 0, [6, 9])
            .into_data()
            .assert_eq(&grid.into_data(), true);
    }

    #[test]
    fn a_window_of_the_partition_holds_its_grid_cells() {
        let device = CpuDevice::default();
        // The value of cell (y, x) is 10·y + x.
        let cells: Vec<f32> = (0..4)
            .flat_map(|y| (0..6).map(move |x| (10 * y + x) as f32))
            .collect();
        let grid = Tensor::<Cpu, 4>::from_data(TensorData::new(cells, [1, 4, 6, 1]), &device);
        let windows = window_partition(grid, 2, 0);
        // Window 4 is the second row of windows, second column: cells (2..4, 2..4).
        let window = windows.narrow(0, 4, 1).into_data().to_vec::<f32>().unwrap();
        assert_eq!(window, [22.0, 23.0, 32.0, 33.0]);
    }

    #[test]
    fn the_mask_separates_the_regions_the_shift_joined() {
        let device = CpuDevice::default();
        // A 4 × 4 grid, windows of 2, shift 1: the last window of each row and column mixes
        // the last row/column before the shift with the first one, rolled in.
        let mask = shift_mask::<Cpu>([4, 4], 2, 1, &device);
        assert_eq!(mask.dims(), [4, 4, 4]);
        let mask = mask.into_data().to_vec::<f32>().unwrap();
        // Window 0 lies inside region (0, 0): nothing masked.
        assert!(mask[..16].iter().all(|&m| m == 0.0));
        // Window 3 (bottom right) holds four regions, one token each: only the diagonal is open.
        for a in 0..4 {
            for b in 0..4 {
                let expected = if a == b { 0.0 } else { -100.0 };
                assert_eq!(mask[3 * 16 + a * 4 + b], expected, "tokens {a}, {b}");
            }
        }
    }
}
