//! The order the engine reads a training set in: seeded by the run's seed and the epoch, so a
//! run resumed mid-epoch reads the rest of the epoch exactly as an uninterrupted one would.
//!
//! Burn's `DataLoader` shuffles with a generator that restarts from its seed in every new
//! process, so after a resume the order of later epochs would differ. Here the loader reads a
//! [`Dataset`] view whose order the engine sets for each epoch ([`EpochClock`]), and the engine
//! resumes mid-epoch by slicing the loader (`DataLoader::slice`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use burn::data::dataset::Dataset;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// A set the engine trains on, read item by item: images, sentences.
pub trait TrainingSet<I>: Send + Sync {
    /// The number of items.
    fn len(&self) -> usize;

    /// Whether there is no item.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `index`; with `augment`, randomly transformed by the set's training augmentation,
    /// drawn from that generator.
    ///
    /// # Errors
    /// An item that cannot be read (an image file that does not decode), named. The engine
    /// then stops the run with a checkpoint and this error, or with
    /// [`Engine::skip_unreadable`](super::Engine::skip_unreadable) reads the next item in its
    /// place and counts it.
    fn item(&self, index: usize, augment: Option<&mut StdRng>) -> Result<I, crate::ZooError>;

    /// The order of the items in the epoch seeded by `seed`: a seeded shuffle by default.
    fn epoch_order(&self, seed: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        order
    }

    /// A one-line description, for logs.
    fn describe(&self) -> String;
}

/// The epoch the engine is in, shared between the training loop and the data views.
#[derive(Debug, Clone, Default)]
pub(crate) struct EpochClock(Arc<AtomicUsize>);

impl EpochClock {
    pub(crate) fn set(&self, epoch: usize) {
        self.0.store(epoch, Ordering::SeqCst);
    }

    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A training set as a Burn [`Dataset`]: in training, item `i` of epoch `e` is item
/// The items a run could not read: counted, the first ones kept with their errors. Unless
/// told to skip them, the first one stops the run (after the current step, with a checkpoint).
pub(crate) struct Unreadable {
    skip: bool,
    interrupter: burn::train::Interrupter,
    /// The count, the first error, and whether the run gave up (nothing readable nearby).
    seen: Mutex<(usize, Option<crate::ZooError>, bool)>,
}

/// The most unreadable items in a row replaced by the next ones before the run stops anyway.
const MAX_IN_A_ROW: usize = 16;

impl Unreadable {
    pub(crate) fn new(skip: bool, interrupter: burn::train::Interrupter) -> Self {
        Self {
            skip,
            interrupter,
            seen: Mutex::new((0, None, false)),
        }
    }

    fn record(&self, error: crate::ZooError) {
        let mut seen = self.seen.lock().expect("no panic holds the lock");
        seen.0 += 1;
        seen.1.get_or_insert(error);
        if !self.skip {
            self.interrupter.stop(Some("an item could not be read"));
        }
    }

    /// How many items could not be read so far.
    pub(crate) fn count(&self) -> usize {
        self.seen.lock().expect("no panic holds the lock").0
    }

    /// Stops the run: no readable item nearby.
    fn give_up(&self) {
        self.seen.lock().expect("no panic holds the lock").2 = true;
        self.interrupter.stop(Some("items could not be read"));
    }

    /// The first error, when the run stopped at it (not skipping, or nothing readable left).
    pub(crate) fn stopping_error(&self) -> Option<crate::ZooError> {
        let seen = self.seen.lock().expect("no panic holds the lock");
        (!self.skip || seen.2).then(|| seen.1.clone()).flatten()
    }
}

/// `order_e[i]` augmented with a generator seeded by `(seed, e, order_e[i])`; in evaluation,
/// item `i`, unaugmented. An item that cannot be read is recorded in `unreadable` and replaced
/// by the next readable one (so that the batch can be made; a run not skipping such items
/// stops after that step).
pub(crate) struct EpochView<I> {
    set: Arc<dyn TrainingSet<I>>,
    training: Option<(u64, EpochClock)>,
    order: Mutex<(usize, Arc<Vec<usize>>)>,
    unreadable: Arc<Unreadable>,
}

impl<I> EpochView<I> {
    pub(crate) fn training(
        set: Arc<dyn TrainingSet<I>>,
        seed: u64,
        clock: EpochClock,
        unreadable: Arc<Unreadable>,
    ) -> Self {
        Self {
            set,
            training: Some((seed, clock)),
            order: Mutex::new((usize::MAX, Arc::new(Vec::new()))),
            unreadable,
        }
    }

    pub(crate) fn evaluation(set: Arc<dyn TrainingSet<I>>, unreadable: Arc<Unreadable>) -> Self {
        Self {
            set,
            training: None,
            order: Mutex::new((usize::MAX, Arc::new(Vec::new()))),
            unreadable,
        }
    }

    fn order(&self, seed: u64, epoch: usize) -> Arc<Vec<usize>> {
        let mut cached = self.order.lock().expect("no panic holds the lock");
        if cached.0 != epoch {
            *cached = (
                epoch,
                Arc::new(self.set.epoch_order(mix(seed, &[epoch as u64]))),
            );
        }
        cached.1.clone()
    }
}

impl<I: Send + Sync> Dataset<I> for EpochView<I> {
    fn get(&self, index: usize) -> Option<I> {
        if index >= self.set.len() {
            return None;
        }
        let len = self.set.len();
        for step in 0..MAX_IN_A_ROW.min(len) {
            let position = (index + step) % len;
            let read = match &self.training {
                None => self.set.item(position, None),
                Some((seed, clock)) => {
                    let epoch = clock.get();
                    let item = self.order(*seed, epoch)[position];
                    let mut rng = StdRng::seed_from_u64(mix(
                        *seed ^ 0x9e37_79b9_7f4a_7c15,
                        &[epoch as u64, item as u64],
                    ));
                    self.set.item(item, Some(&mut rng))
                }
            };
            match read {
                Ok(item) => return Some(item),
                Err(error) => self.unreadable.record(error),
            }
        }
        // Nothing readable nearby: the loader ends here, and the run stops.
        self.unreadable.give_up();
        None
    }

    fn len(&self) -> usize {
        self.set.len()
    }
}

/// A seed from the run's seed and a position (epoch, batch, item), mixed with SplitMix64.
pub(crate) fn mix(seed: u64, position: &[u64]) -> u64 {
    let mut x = seed;
    for &p in position {
        x = x
            .wrapping_add(p.wrapping_add(1))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
    }
    x
}
