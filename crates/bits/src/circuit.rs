//! Circuits as netlists: built once, gate by gate, then evaluated on any backend layer by
//! layer. Building folds constants (public bits cost nothing), shares identical gates and
//! records each gate's layer, so an evaluation hands the backend every gate of a layer at
//! once and skips gates no output needs.

use std::collections::HashMap;

use crate::{BitsError, GateOp, Gates};

/// A wire of a circuit: a public constant or the output of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wire {
    /// A public bit: gates on it fold away when the circuit is built.
    Const(bool),
    /// The output of node `i` of the circuit (an input or a gate), numbered in creation
    /// order.
    Node(usize),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Node {
    Input,
    Not(usize),
    And(usize, usize),
    Or(usize, usize),
    Mux(usize, usize, usize),
    Parity(Vec<usize>),
    Carry(Vec<usize>, u8),
}

impl Node {
    fn inputs(&self) -> Vec<usize> {
        match self {
            Node::Input => vec![],
            Node::Not(a) => vec![*a],
            Node::And(a, b) | Node::Or(a, b) => vec![*a, *b],
            Node::Mux(s, a, b) => vec![*s, *a, *b],
            Node::Parity(xs) | Node::Carry(xs, _) => xs.clone(),
        }
    }
}

/// Size of the part of a circuit some output needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CircuitStats {
    /// Gates other than NOT.
    pub gates: usize,
    /// Bootstraps on the bootstrapped engine (MUX costs two, NOT none).
    pub bootstraps: usize,
    /// Layers of gates on the longest path (NOT is free).
    pub depth: u32,
}

/// A netlist under construction.
#[derive(Default)]
pub struct Circuit {
    nodes: Vec<Node>,
    layers: Vec<u32>,
    shared: HashMap<Node, usize>,
}

impl Circuit {
    /// An empty circuit.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh input wire; inputs are bound in creation order at evaluation.
    pub fn input(&mut self) -> Wire {
        self.nodes.push(Node::Input);
        self.layers.push(0);
        Wire::Node(self.nodes.len() - 1)
    }

    /// `n` fresh input wires, in order.
    pub fn inputs(&mut self, n: usize) -> Vec<Wire> {
        (0..n).map(|_| self.input()).collect()
    }

    /// The gate layer a wire is computed in (0 for inputs and constants).
    pub fn layer(&self, w: Wire) -> u32 {
        match w {
            Wire::Const(_) => 0,
            Wire::Node(i) => self.layers[i],
        }
    }

    fn node(&mut self, node: Node) -> Wire {
        if let Some(&i) = self.shared.get(&node) {
            return Wire::Node(i);
        }
        let inputs = node.inputs();
        let deepest = inputs.iter().map(|&i| self.layers[i]).max().unwrap_or(0);
        let layer = deepest + u32::from(!matches!(node, Node::Not(_)));
        self.nodes.push(node.clone());
        self.layers.push(layer);
        self.shared.insert(node, self.nodes.len() - 1);
        Wire::Node(self.nodes.len() - 1)
    }

    /// `!a`: no gate layer; a constant folds and a double NOT cancels.
    pub fn not(&mut self, a: Wire) -> Wire {
        match a {
            Wire::Const(b) => Wire::Const(!b),
            Wire::Node(i) => match self.nodes[i] {
                Node::Not(j) => Wire::Node(j),
                _ => self.node(Node::Not(i)),
            },
        }
    }

    /// Whether one wire is the NOT of the other.
    fn complementary(&self, a: Wire, b: Wire) -> bool {
        let negates = |x: Wire, y: Wire| match (x, y) {
            (Wire::Node(i), Wire::Node(j)) => self.nodes[i] == Node::Not(j),
            _ => false,
        };
        negates(a, b) || negates(b, a)
    }

    /// `a && b`, folded when an operand is constant, equal to the other or its NOT.
    pub fn and(&mut self, a: Wire, b: Wire) -> Wire {
        if self.complementary(a, b) {
            return Wire::Const(false);
        }
        match (a, b) {
            (Wire::Const(false), _) | (_, Wire::Const(false)) => Wire::Const(false),
            (Wire::Const(true), x) | (x, Wire::Const(true)) => x,
            (Wire::Node(i), Wire::Node(j)) if i == j => a,
            (Wire::Node(i), Wire::Node(j)) => self.node(Node::And(i.min(j), i.max(j))),
        }
    }

    /// `a || b`, folded when an operand is constant, equal to the other or its NOT.
    pub fn or(&mut self, a: Wire, b: Wire) -> Wire {
        if self.complementary(a, b) {
            return Wire::Const(true);
        }
        match (a, b) {
            (Wire::Const(true), _) | (_, Wire::Const(true)) => Wire::Const(true),
            (Wire::Const(false), x) | (x, Wire::Const(false)) => x,
            (Wire::Node(i), Wire::Node(j)) if i == j => a,
            (Wire::Node(i), Wire::Node(j)) => self.node(Node::Or(i.min(j), i.max(j))),
        }
    }

    /// `a ^ b`, as the parity of two wires.
    pub fn xor(&mut self, a: Wire, b: Wire) -> Wire {
        self.parity(&[a, b])
    }

    /// `select ? then : otherwise`.
    pub fn mux(&mut self, select: Wire, then: Wire, otherwise: Wire) -> Wire {
        match (select, then, otherwise) {
            (Wire::Const(s), a, b) => {
                if s {
                    a
                } else {
                    b
                }
            }
            (_, a, b) if a == b => a,
            (s, Wire::Const(true), b) => self.or(s, b),
            (s, Wire::Const(false), b) => {
                let ns = self.not(s);
                self.and(ns, b)
            }
            (s, a, Wire::Const(false)) => self.and(s, a),
            (s, a, Wire::Const(true)) => {
                let ns = self.not(s);
                self.or(ns, a)
            }
            (Wire::Node(s), Wire::Node(a), Wire::Node(b)) => self.node(Node::Mux(s, a, b)),
        }
    }

    /// XOR of any number of wires; constants and pairs of equal wires cancel.
    pub fn parity(&mut self, wires: &[Wire]) -> Wire {
        let mut flip = false;
        let mut nodes: Vec<usize> = Vec::new();
        for &w in wires {
            match w {
                Wire::Const(b) => flip ^= b,
                Wire::Node(i) => match nodes.iter().position(|&j| j == i) {
                    Some(k) => {
                        nodes.swap_remove(k);
                    }
                    None => nodes.push(i),
                },
            }
        }
        nodes.sort_unstable();
        let out = match nodes.as_slice() {
            [] => Wire::Const(false),
            [i] => Wire::Node(*i),
            _ => self.node(Node::Parity(nodes)),
        };
        if flip {
            self.not(out)
        } else {
            out
        }
    }

    /// Bit 1 of the number of true wires: the parity of the carries a column holding these
    /// bits sends to the next one (the majority, for three).
    pub fn carry(&mut self, wires: &[Wire]) -> Wire {
        let ones = wires.iter().filter(|w| **w == Wire::Const(true)).count() as u8 % 4;
        let mut nodes: Vec<usize> = wires
            .iter()
            .filter_map(|w| match w {
                Wire::Node(i) => Some(*i),
                Wire::Const(_) => None,
            })
            .collect();
        nodes.sort_unstable();
        match (nodes.as_slice(), ones) {
            ([], _) => Wire::Const(ones >> 1 == 1),
            // bit 1 of (ones + x): x itself when ones is 1, NOT x when 3.
            ([_], 0 | 2) => Wire::Const(ones == 2),
            ([i], _) => {
                let x = Wire::Node(*i);
                if ones == 1 {
                    x
                } else {
                    self.not(x)
                }
            }
            // Two bits: AND, OR, NAND, NOR for 0 to 3 constant ones.
            ([i, j], _) => {
                let (x, y) = (Wire::Node(*i), Wire::Node(*j));
                match ones {
                    0 => self.and(x, y),
                    1 => self.or(x, y),
                    2 => {
                        let a = self.and(x, y);
                        self.not(a)
                    }
                    _ => {
                        let o = self.or(x, y);
                        self.not(o)
                    }
                }
            }
            _ => self.node(Node::Carry(nodes, ones)),
        }
    }

    /// Gates, bootstraps and depth of what `outputs` need.
    pub fn stats(&self, outputs: &[Wire]) -> CircuitStats {
        let live = self.live(outputs);
        let mut stats = CircuitStats {
            gates: 0,
            bootstraps: 0,
            depth: 0,
        };
        for (i, node) in self.nodes.iter().enumerate().filter(|(i, _)| live[*i]) {
            stats.depth = stats.depth.max(self.layers[i]);
            match node {
                Node::Input | Node::Not(_) => {}
                Node::Mux(..) => {
                    stats.gates += 1;
                    stats.bootstraps += 2;
                }
                _ => {
                    stats.gates += 1;
                    stats.bootstraps += 1;
                }
            }
        }
        stats
    }

    /// Which nodes the outputs depend on (nodes only refer to earlier ones).
    fn live(&self, outputs: &[Wire]) -> Vec<bool> {
        let mut live = vec![false; self.nodes.len()];
        for w in outputs {
            if let Wire::Node(i) = w {
                live[*i] = true;
            }
        }
        for i in (0..self.nodes.len()).rev() {
            if live[i] {
                for j in self.nodes[i].inputs() {
                    live[j] = true;
                }
            }
        }
        live
    }

    /// Runs the circuit on `backend`: `inputs` bind the input wires in creation order. Each
    /// layer's gates go to the backend together; NOTs follow the layer of their input.
    pub fn eval<B: Gates>(
        &self,
        backend: &B,
        inputs: &[&B::Bit],
        outputs: &[Wire],
    ) -> Result<Vec<B::Bit>, BitsError> {
        let input_count = self.nodes.iter().filter(|n| **n == Node::Input).count();
        if inputs.len() != input_count {
            return Err(BitsError::BitCount {
                expected: input_count,
                found: inputs.len(),
            });
        }
        let live = self.live(outputs);
        let mut values: Vec<Slot<B::Bit>> = (0..self.nodes.len()).map(|_| Slot::Empty).collect();
        let mut next_input = inputs.iter();
        let mut by_layer: Vec<Vec<usize>> = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            if *node == Node::Input {
                values[i] =
                    Slot::Borrowed(next_input.next().copied().ok_or(BitsError::BitCount {
                        expected: input_count,
                        found: inputs.len(),
                    })?);
            } else if live[i] {
                let layer = self.layers[i] as usize;
                if by_layer.len() <= layer {
                    by_layer.resize(layer + 1, Vec::new());
                }
                by_layer[layer].push(i);
            }
        }
        for layer in &by_layer {
            // Gates first (in parallel), then the NOTs of this layer, which read them.
            let (nots, gates): (Vec<usize>, Vec<usize>) = layer
                .iter()
                .partition(|&&i| matches!(self.nodes[i], Node::Not(_)));
            let ops: Vec<GateOp<B::Bit>> = gates.iter().map(|&i| self.op(i, &values)).collect();
            let results = backend.layer(&ops)?;
            for (i, bit) in gates.into_iter().zip(results) {
                values[i] = Slot::Owned(bit);
            }
            for i in nots {
                let bit = backend.gate(&self.op(i, &values))?;
                values[i] = Slot::Owned(bit);
            }
        }
        outputs
            .iter()
            .map(|w| match w {
                Wire::Const(b) => Ok(backend.constant(*b)),
                Wire::Node(i) => Ok(values[*i].get().clone()),
            })
            .collect()
    }

    // The builder only refers to nodes made before (so they are evaluated first), and the
    // evaluation binds inputs instead of evaluating them: neither arm can be reached.
    #[allow(clippy::unreachable)]
    fn op<'a, T>(&self, i: usize, values: &'a [Slot<T>]) -> GateOp<'a, T> {
        let v = |j: &usize| values[*j].get();
        match &self.nodes[i] {
            Node::Not(a) => GateOp::Not(v(a)),
            Node::And(a, b) => GateOp::And(v(a), v(b)),
            Node::Or(a, b) => GateOp::Or(v(a), v(b)),
            Node::Parity(xs) if xs.len() == 2 => GateOp::Xor(v(&xs[0]), v(&xs[1])),
            Node::Mux(s, a, b) => GateOp::Mux {
                select: v(s),
                then: v(a),
                otherwise: v(b),
            },
            Node::Parity(xs) => GateOp::Parity(xs.iter().map(v).collect()),
            Node::Carry(xs, offset) => GateOp::Carry {
                inputs: xs.iter().map(v).collect(),
                offset: *offset,
            },
            Node::Input => unreachable!("inputs are bound, not evaluated"),
        }
    }
}

/// A node's value during evaluation: inputs are borrowed, so a GSW ciphertext of megabytes
/// is never copied to be read.
enum Slot<'a, T> {
    Empty,
    Borrowed(&'a T),
    Owned(T),
}

impl<T> Slot<'_, T> {
    // See `Circuit::op`: a node is read only after it was evaluated or bound.
    #[allow(clippy::unreachable)]
    fn get(&self) -> &T {
        match self {
            Slot::Borrowed(t) => t,
            Slot::Owned(t) => t,
            Slot::Empty => unreachable!("nodes are evaluated after their inputs"),
        }
    }
}
