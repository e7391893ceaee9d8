#[pela::twin]
pub fn forward(x: f32) -> f32 {
    x
}

fn main() {}
