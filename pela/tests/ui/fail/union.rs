use pela::LowRank;

#[derive(LowRank)]
pub union Bits {
    float: f32,
    int: u32,
}

fn main() {}
