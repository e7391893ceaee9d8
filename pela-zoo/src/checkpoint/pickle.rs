//! A restricted unpickler for the `data.pkl` of a PyTorch checkpoint: the opcodes `torch.save`
//! writes (protocols 2 to 4), dictionaries, lists, tuples, numbers, strings and tensors;
//! every other class is kept as an opaque name, never called.
//!
//! Why not burn-store's reader: in Burn 0.21 (`burn-store` `pytorch/pickle_reader.rs`) a
//! storage that is missing, fails its CRC or is short loads as zeros without an error, strides
//! are ignored (a saved `.t()` view loads scrambled), and sizes from the file are allocated
//! before they are checked. This one records where each tensor lies ([`TensorRef`]) and
//! allocates nothing beyond the bytes of the pickle itself: every length is checked against
//! what is left of it, and values are shared (`Rc`), so the memo cannot multiply them.

use std::collections::HashMap;
use std::rc::Rc;

use burn::tensor::DType;

/// A value of the pickle.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    None,
    /// A boolean, float or bytes value (none is needed to find the tensors).
    Scalar,
    Int(i64),
    Str(Rc<str>),
    Tuple(Rc<[Value]>),
    List(Rc<Vec<Value>>),
    /// Keys and values in order.
    Dict(Rc<Vec<(Value, Value)>>),
    /// A class or function, `module.name`.
    Global(Rc<str>),
    /// A storage named by a persistent id.
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
    /// An instance of a class that is not rebuilt (`argparse.Namespace`, …).
    Object,
}

/// A storage of the archive: the entry `data/<key>`, of `numel` elements of `dtype`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StorageRef {
    pub key: String,
    pub dtype: DType,
    pub numel: u64,
}

/// A tensor: a view of a storage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TensorRef {
    pub storage: Rc<StorageRef>,
    /// In elements.
    pub offset: u64,
    pub shape: Vec<usize>,
    /// In elements.
    pub stride: Vec<u64>,
}

/// The most nested containers the unpickler follows (a state dict is two or three deep).
pub(crate) const MAX_DEPTH: usize = 64;

/// The value `bytes` (a whole pickle) builds.
///
/// # Errors
/// A message naming the opcode and its position: a truncated or malformed pickle, a length
/// past its end, an opcode `torch.save` does not write.
pub(crate) fn unpickle(bytes: &[u8]) -> Result<Value, String> {
    Machine {
        bytes,
        at: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    }
    .run()
}

struct Machine<'a> {
    bytes: &'a [u8],
    at: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
}

impl Machine<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| {
                format!(
                    "truncated at byte {}: {n} bytes announced, {} left",
                    self.at,
                    self.bytes.len() - self.at
                )
            })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn le<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn length(&mut self, width: usize) -> Result<usize, String> {
        let n = match width {
            1 => u64::from(self.u8()?),
            4 => u64::from(u32::from_le_bytes(self.le()?)),
            _ => u64::from_le_bytes(self.le()?),
        };
        usize::try_from(n).map_err(|_| format!("a length of {n} bytes"))
    }

    fn line(&mut self) -> Result<String, String> {
        let rest = &self.bytes[self.at..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| format!("an unterminated line at byte {}", self.at))?;
        let text = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.at += end + 1;
        Ok(text)
    }

    fn pop(&mut self) -> Result<Value, String> {
        self.stack
            .pop()
            .ok_or_else(|| format!("the stack is empty at byte {}", self.at))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, String> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| format!("no mark at byte {}", self.at))?;
        if mark > self.stack.len() {
            return Err(format!("a mark past the stack at byte {}", self.at));
        }
        Ok(self.stack.split_off(mark))
    }

    fn top(&mut self) -> Result<&mut Value, String> {
        let at = self.at;
        self.stack
            .last_mut()
            .ok_or_else(|| format!("the stack is empty at byte {at}"))
    }

    fn run(mut self) -> Result<Value, String> {
        loop {
            let position = self.at;
            let opcode = self.u8()?;
            match opcode {
                0x80 => {
                    let protocol = self.u8()?;
                    if protocol > 5 {
                        return Err(format!("pickle protocol {protocol}"));
                    }
                }
                0x95 => {
                    self.take(8)?; // FRAME: a length hint
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Scalar),
                0x89 => self.stack.push(Value::Scalar),
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.le()?);
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.le()?);
                    self.stack.push(Value::Int(i64::from(v)));
                }
                0x8a | 0x8b => {
                    let n = self.length(if opcode == 0x8a { 1 } else { 4 })?;
                    let digits = self.take(n)?;
                    if n > 8 {
                        return Err(format!("an integer of {n} bytes at byte {position}"));
                    }
                    let mut le = [0u8; 8];
                    le[..n].copy_from_slice(digits);
                    if n > 0 && n < 8 && digits[n - 1] & 0x80 != 0 {
                        le[n..].fill(0xff); // sign extension
                    }
                    self.stack.push(Value::Int(i64::from_le_bytes(le)));
                }
                b'G' => {
                    self.take(8)?;
                    self.stack.push(Value::Scalar);
                }
                b'X' | 0x8c | 0x8d => {
                    let width = match opcode {
                        0x8c => 1,
                        b'X' => 4,
                        _ => 8,
                    };
                    let n = self.length(width)?;
                    let text = String::from_utf8_lossy(self.take(n)?).into_owned();
                    self.stack.push(Value::Str(text.into()));
                }
                b'U' | b'T' | b'C' | b'B' | 0x8e | 0x96 => {
                    let width = match opcode {
                        b'U' | b'C' => 1,
                        b'T' | b'B' => 4,
                        _ => 8,
                    };
                    let n = self.length(width)?;
                    self.take(n)?;
                    self.stack.push(Value::Scalar);
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack
                        .push(Value::Global(format!("{module}.{name}").into()));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => {
                            self.stack.push(Value::Global(format!("{m}.{n}").into()));
                        }
                        _ => return Err(format!("STACK_GLOBAL of non-strings at byte {position}")),
                    }
                }
                b')' => self.stack.push(Value::Tuple(Rc::from(Vec::new()))),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items.into()));
                }
                0x85..=0x87 => {
                    let n = usize::from(opcode - 0x84);
                    if self.stack.len() < n {
                        return Err(format!("TUPLE{n} on a short stack at byte {position}"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(items.into()));
                }
                b']' => self.stack.push(Value::List(Rc::new(Vec::new()))),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(Rc::new(items)));
                }
                b'}' => self.stack.push(Value::Dict(Rc::new(Vec::new()))),
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = pairs(items, position)?;
                    self.stack.push(Value::Dict(Rc::new(pairs)));
                }
                0x8f => self.stack.push(Value::List(Rc::new(Vec::new()))), // EMPTY_SET
                0x91 => {
                    let items = self.pop_mark()?; // FROZENSET
                    self.stack.push(Value::List(Rc::new(items)));
                }
                b'a' => {
                    let item = self.pop()?;
                    extend(self.top()?, vec![item], position)?;
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark()?;
                    extend(self.top()?, items, position)?;
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    set_items(self.top()?, vec![(key, value)], position)?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let pairs = pairs(items, position)?;
                    set_items(self.top()?, pairs, position)?;
                }
                b'q' | b'r' | 0x94 => {
                    let index = match opcode {
                        b'q' => u32::from(self.u8()?),
                        b'r' => u32::from_le_bytes(self.le()?),
                        _ => u32::try_from(self.memo.len()).map_err(|_| "a memo too large")?,
                    };
                    let value = self.top()?.clone();
                    self.memo.insert(index, value);
                }
                b'h' | b'j' => {
                    let index = if opcode == b'h' {
                        u32::from(self.u8()?)
                    } else {
                        u32::from_le_bytes(self.le()?)
                    };
                    let value = self.memo.get(&index).cloned().ok_or_else(|| {
                        format!("memo entry {index} read before it is written, at byte {position}")
                    })?;
                    self.stack.push(value);
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let value = self.top()?.clone();
                    self.stack.push(value);
                }
                b'Q' => {
                    let id = self.pop()?;
                    self.stack.push(persistent(&id, position)?);
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.stack.push(reduce(&callable, &args, position)?);
                }
                0x81 => {
                    let _args = self.pop()?;
                    self.pop()?;
                    self.stack.push(Value::Object);
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let _args = self.pop()?;
                    self.pop()?;
                    self.stack.push(Value::Object);
                }
                b'b' => {
                    // BUILD sets an object's state (an OrderedDict's `_metadata`): not kept.
                    self.pop()?;
                    self.top()?;
                }
                other => {
                    return Err(format!(
                        "opcode {other:#04x} at byte {position}, which `torch.save` does not write"
                    ));
                }
            }
            if self.stack.len() > self.bytes.len() {
                return Err("a stack larger than the pickle".to_string());
            }
        }
    }
}

fn name_of(value: &Value) -> Rc<str> {
    match value {
        Value::Global(name) => name.clone(),
        _ => Rc::from("object"),
    }
}

fn pairs(items: Vec<Value>, position: usize) -> Result<Vec<(Value, Value)>, String> {
    if items.len() % 2 != 0 {
        return Err(format!("an odd number of dict items at byte {position}"));
    }
    let mut items = items.into_iter();
    let mut out = Vec::new();
    while let (Some(key), Some(value)) = (items.next(), items.next()) {
        out.push((key, value));
    }
    Ok(out)
}

fn extend(target: &mut Value, items: Vec<Value>, position: usize) -> Result<(), String> {
    match target {
        Value::List(list) => {
            Rc::make_mut(list).extend(items);
            Ok(())
        }
        Value::Object => Ok(()),
        _ => Err(format!("APPEND to a non-list at byte {position}")),
    }
}

fn set_items(
    target: &mut Value,
    items: Vec<(Value, Value)>,
    position: usize,
) -> Result<(), String> {
    match target {
        Value::Dict(dict) => {
            Rc::make_mut(dict).extend(items);
            Ok(())
        }
        Value::Object => Ok(()),
        _ => Err(format!("SETITEM on a non-dict at byte {position}")),
    }
}

/// The storage of a persistent id `('storage', torch.FloatStorage, key, location, numel)`.
fn persistent(id: &Value, position: usize) -> Result<Value, String> {
    let bad = || format!("a persistent id that is not a storage, at byte {position}");
    let Value::Tuple(items) = id else {
        return Err(bad());
    };
    match &items[..] {
        [
            Value::Str(kind),
            Value::Global(class),
            Value::Str(key),
            _,
            Value::Int(numel),
        ] if &**kind == "storage" => {
            let dtype = storage_dtype(class)
                .ok_or_else(|| format!("a storage of `{class}`, which pela-zoo does not read"))?;
            let numel = u64::try_from(*numel)
                .map_err(|_| format!("storage `{key}` of {numel} elements"))?;
            Ok(Value::Storage(Rc::new(StorageRef {
                key: key.to_string(),
                dtype,
                numel,
            })))
        }
        _ => Err(bad()),
    }
}

/// The element type of a storage class.
fn storage_dtype(class: &str) -> Option<DType> {
    Some(match class.strip_prefix("torch.")? {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "CharStorage" => DType::I8,
        "ByteStorage" => DType::U8,
        "BoolStorage" => DType::Bool(burn::tensor::BoolStore::Native),
        _ => return None,
    })
}

/// `callable(*args)`, for the callables of a state dict; any other is an opaque object.
fn reduce(callable: &Value, args: &Value, position: usize) -> Result<Value, String> {
    let name = name_of(callable);
    let args: &[Value] = match args {
        Value::Tuple(items) => items,
        _ => {
            return Err(format!(
                "REDUCE without an argument tuple at byte {position}"
            ));
        }
    };
    match &*name {
        "torch._utils._rebuild_tensor_v2" | "torch._utils._rebuild_tensor" => {
            tensor(args, position).map(|t| Value::Tensor(Rc::new(t)))
        }
        "torch._utils._rebuild_parameter" | "torch._utils._rebuild_parameter_with_state" => {
            match args.first() {
                Some(tensor @ Value::Tensor(_)) => Ok(tensor.clone()),
                _ => Err(format!("a parameter without a tensor at byte {position}")),
            }
        }
        "collections.OrderedDict" | "builtins.dict" => Ok(Value::Dict(Rc::new(Vec::new()))),
        _ => Ok(Value::Object),
    }
}

/// `_rebuild_tensor_v2(storage, offset, size, stride, …)`.
fn tensor(args: &[Value], position: usize) -> Result<TensorRef, String> {
    let bad = |what: &str| format!("a tensor with {what}, at byte {position}");
    let [
        Value::Storage(storage),
        Value::Int(offset),
        Value::Tuple(size),
        Value::Tuple(stride),
        ..,
    ] = args
    else {
        return Err(bad(
            "arguments that are not (storage, offset, size, stride)",
        ));
    };
    let count = |v: &Value| match v {
        Value::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    };
    let shape = size
        .iter()
        .map(|v| count(v).and_then(|n| usize::try_from(n).ok()))
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| bad("a negative or non-integer size"))?;
    let stride = stride
        .iter()
        .map(count)
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(|| bad("a negative or non-integer stride"))?;
    if stride.len() != shape.len() {
        return Err(bad("as many strides as sizes"));
    }
    Ok(TensorRef {
        storage: storage.clone(),
        offset: u64::try_from(*offset).map_err(|_| bad("a negative offset"))?,
        shape,
        stride,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{'w': _rebuild_tensor_v2(('storage', torch.FloatStorage, '0', 'cpu', 6), 0, (2, 3),
    /// (3, 1), False, OrderedDict())}`, as Python 3.12's `pickle.dumps(..., protocol=2)`
    /// writes it (persistent ids through `persistent_id`).
    fn state_dict() -> Vec<u8> {
        let mut p = vec![0x80, 2, b'}', b'q', 0, b'X'];
        p.extend(1u32.to_le_bytes());
        p.push(b'w');
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n");
        p.push(b'(');
        p.extend(b"(X");
        p.extend(7u32.to_le_bytes());
        p.extend(b"storagectorch\nFloatStorage\nX");
        p.extend(1u32.to_le_bytes());
        p.push(b'0');
        p.push(b'X');
        p.extend(3u32.to_le_bytes());
        p.extend(b"cpuK\x06tQK\x00K\x02K\x03\x86K\x03K\x01\x86\x89ccollections\nOrderedDict\n)Rt");
        p.extend(b"Rs.");
        p
    }

    #[test]
    fn a_state_dict_is_read() {
        let Value::Dict(items) = unpickle(&state_dict()).unwrap() else {
            panic!("a dict")
        };
        let (Value::Str(key), Value::Tensor(tensor)) = &items[0] else {
            panic!("a key and a tensor")
        };
        assert_eq!(&**key, "w");
        assert_eq!(tensor.shape, vec![2, 3]);
        assert_eq!(tensor.stride, vec![3, 1]);
        assert_eq!(tensor.storage.numel, 6);
        assert_eq!(tensor.storage.dtype, DType::F32);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = state_dict();
        for end in 0..bytes.len() {
            assert!(unpickle(&bytes[..end]).is_err(), "truncated at {end}");
        }
    }

    #[test]
    fn a_huge_string_length_is_refused_without_allocating() {
        let mut bytes = vec![0x80, 2, b'X'];
        bytes.extend(u32::MAX.to_le_bytes());
        let error = unpickle(&bytes).unwrap_err();
        assert!(
            error.contains("4294967295 bytes announced, 0 left"),
            "{error}"
        );
    }

    #[test]
    fn the_memo_shares_values_instead_of_copying_them() {
        // A list holding itself 2⁴⁰ times over, by memo: each level doubles the count.
        let mut bytes = vec![0x80, 2, b']', b'q', 0];
        for _ in 0..40 {
            bytes.extend([b'(', b'h', 0, b'h', 0, b'l', b'q', 0]);
        }
        bytes.push(b'.');
        assert!(matches!(unpickle(&bytes), Ok(Value::List(_))));
    }
}
