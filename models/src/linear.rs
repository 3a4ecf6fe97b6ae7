//! A softmax (multinomial logistic) classifier over sentence embeddings: trained on an AI
//! agent's example phrases, it weighs every example of an intent at once, where the nearest
//! single example decides by one phrase. Plain sequential arithmetic in a fixed order: the same
//! examples always give the same weights, and the same vector the same answer, whatever the
//! machine's load or thread count.

/// Training passes over the examples (full-batch gradient descent).
const PASSES: usize = 600;
/// The step: embeddings are unit vectors, so a large step converges in a few hundred passes.
const STEP: f32 = 10.0;
/// L2 penalty on the weights: keeps the probabilities of a phrase far from every example
/// moderate instead of confident.
const L2: f32 = 0.001;

/// Weights per class over unit-length embeddings.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxClassifier {
    classes: usize,
    dims: usize,
    /// `classes` rows of `dims` weights.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl SoftmaxClassifier {
    /// Trains on `(class, vector)` examples; classes are `0..classes` (a class without examples
    /// is never the most likely). Vectors of another length than the first are skipped.
    pub fn train(examples: &[(usize, &[f32])], classes: usize) -> SoftmaxClassifier {
        let dims = examples.first().map(|(_, v)| v.len()).unwrap_or(0);
        let examples: Vec<(usize, &[f32])> =
            examples.iter().copied().filter(|(c, v)| *c < classes && v.len() == dims).collect();
        let mut m =
            SoftmaxClassifier { classes, dims, weights: vec![0.0; classes * dims], bias: vec![0.0; classes] };
        if examples.is_empty() {
            return m;
        }
        let n = examples.len() as f32;
        let mut grad_w = vec![0.0f32; classes * dims];
        let mut grad_b = vec![0.0f32; classes];
        let mut p = vec![0.0f32; classes];
        for _ in 0..PASSES {
            grad_w.iter_mut().for_each(|g| *g = 0.0);
            grad_b.iter_mut().for_each(|g| *g = 0.0);
            for &(class, x) in &examples {
                m.probabilities_into(x, &mut p);
                for (c, pc) in p.iter().enumerate() {
                    let g = pc - if c == class { 1.0 } else { 0.0 };
                    grad_b[c] += g;
                    for (gw, xi) in grad_w[c * dims..(c + 1) * dims].iter_mut().zip(x) {
                        *gw += g * xi;
                    }
                }
            }
            for (b, g) in m.bias.iter_mut().zip(&grad_b) {
                *b -= STEP * g / n;
            }
            for (w, g) in m.weights.iter_mut().zip(&grad_w) {
                *w -= STEP * (g / n + L2 * *w);
            }
        }
        m
    }

    /// Each class's probability for `v` (a unit vector of the trained length; another length
    /// gives equal probabilities).
    pub fn probabilities(&self, v: &[f32]) -> Vec<f32> {
        let mut p = vec![0.0; self.classes];
        self.probabilities_into(v, &mut p);
        p
    }

    fn probabilities_into(&self, v: &[f32], p: &mut [f32]) {
        if v.len() != self.dims || self.classes == 0 {
            p.iter_mut().for_each(|x| *x = 1.0 / self.classes.max(1) as f32);
            return;
        }
        for (c, out) in p.iter_mut().enumerate() {
            let w = &self.weights[c * self.dims..(c + 1) * self.dims];
            *out = w.iter().zip(v).map(|(a, b)| a * b).sum::<f32>() + self.bias[c];
        }
        let max = p.iter().copied().fold(f32::MIN, f32::max);
        let mut sum = 0.0;
        for x in p.iter_mut() {
            *x = (*x - max).exp();
            sum += *x;
        }
        p.iter_mut().for_each(|x| *x /= sum);
    }

    /// The most likely class and its probability; None without classes.
    pub fn predict(&self, v: &[f32]) -> Option<(usize, f32)> {
        self.probabilities(v).into_iter().enumerate().max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn classes_are_learned_from_all_their_examples() {
        // Class 0 points along x, class 1 along y, class 2 along z; with a few noisy examples each.
        let raw = [
            (0, [1.0, 0.1, 0.0]),
            (0, [0.9, -0.2, 0.1]),
            (0, [1.0, 0.0, -0.2]),
            (1, [0.1, 1.0, 0.0]),
            (1, [-0.2, 0.8, 0.1]),
            (2, [0.0, 0.1, 1.0]),
            (2, [0.2, 0.0, 0.9]),
        ];
        let vs: Vec<(usize, Vec<f32>)> = raw.iter().map(|(c, v)| (*c, unit(v))).collect();
        let ex: Vec<(usize, &[f32])> = vs.iter().map(|(c, v)| (*c, v.as_slice())).collect();
        let m = SoftmaxClassifier::train(&ex, 4);
        assert_eq!(m.predict(&unit(&[0.7, 0.3, 0.1])).map(|p| p.0), Some(0));
        assert_eq!(m.predict(&unit(&[0.2, 0.9, 0.3])).map(|p| p.0), Some(1));
        assert_eq!(m.predict(&unit(&[0.1, 0.2, 0.8])).map(|p| p.0), Some(2));
        let p = m.probabilities(&unit(&[1.0, 0.0, 0.0]));
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
        assert!(p[3] < 0.05, "a class without examples is unlikely: {p:?}");
        // Between two classes the probabilities are moderate, not confident.
        let (_, between) = m.predict(&unit(&[1.0, 1.0, 0.0])).unwrap_or((0, 1.0));
        assert!(between < 0.8, "{between}");
    }

    #[test]
    fn the_same_examples_always_give_the_same_model_and_bad_input_is_harmless() {
        let vs: Vec<(usize, Vec<f32>)> =
            (0..30).map(|i| (i % 3, unit(&[(i as f32).sin(), (i as f32).cos(), (i % 3) as f32]))).collect();
        let ex: Vec<(usize, &[f32])> = vs.iter().map(|(c, v)| (*c, v.as_slice())).collect();
        assert_eq!(SoftmaxClassifier::train(&ex, 3), SoftmaxClassifier::train(&ex, 3));
        let m = SoftmaxClassifier::train(&ex, 3);
        assert_eq!(m.probabilities(&[1.0]), vec![1.0 / 3.0; 3], "a vector of the wrong length");
        let empty = SoftmaxClassifier::train(&[], 2);
        assert!(empty.predict(&[0.5, 0.5]).is_some());
        assert_eq!(SoftmaxClassifier::train(&[], 0).predict(&[]), None);
    }
}
