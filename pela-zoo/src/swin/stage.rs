//! A stage of a Swin: patch merging (stages after the first), then blocks at one resolution.

use burn::prelude::*;
use pela::LowRank;

use super::{PatchMerging, SwinBlock};

/// A stage, as timm's `SwinTransformerStage`: the patch merging that halves the grid at its
/// start (none in the first stage), then its blocks, regular and shifted windows in turn.
/// (Microsoft's original code puts each merging at the end of the stage before;
/// [`SwinConfig::load_checkpoint`](crate::swin::SwinConfig::load_checkpoint) moves it.)
///
/// Should be created with [`SwinConfig::init`](crate::swin::SwinConfig::init).
#[derive(Module, LowRank, Debug)]
pub struct SwinStage<B: Backend> {
    /// The patch merging into this stage.
    #[low_rank]
    pub downsample: Option<PatchMerging<B>>,
    /// The blocks.
    #[low_rank]
    pub blocks: Vec<SwinBlock<B>>,
}

#[pela::twin]
impl<B: Backend> SwinStage<B> {
    /// The merging (if any), then every block.
    ///
    /// # Shapes
    /// - grid: `[batch, height, width, dim_in]`
    /// - output: `[batch, height', width', dim]` (halved by the merging, if any)
    pub fn forward(&self, grid: Tensor<B, 4>) -> Tensor<B, 4> {
        let grid = match &self.downsample {
            Some(merging) => merging.forward(grid),
            None => grid,
        };
        self.blocks
            .iter()
            .fold(grid, |grid, block| block.forward(grid))
    }
}
