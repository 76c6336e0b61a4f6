import Foundation

/// The model's answer: the winning class, its label and its score (0...1 for softmax).
struct Prediction: Equatable {
    let classIndex: Int
    let label: String
    let confidence: Float
}

/// Which runtime classifies: TensorFlow Lite (.tflite), ONNX Runtime (.onnx), or both side by side.
/// Mirrors android_demo's Backends.kt.
enum BackendChoice: String, CaseIterable, Identifiable {
    case tflite = "TensorFlow Lite"
    case onnx = "ONNX Runtime"
    case both = "Both"

    var id: String { rawValue }
}

/// One backend's outcome for one image: an answer, or why that backend has none.
enum Outcome: Equatable {
    case answer(Prediction)
    case unavailable(String)

    var prediction: Prediction? {
        if case let .answer(prediction) = self {
            return prediction
        }
        return nil
    }
}

/// What the screen shows for one image: each chosen backend's outcome and, when both answered,
/// whether they agree (same class) and how far apart their scores are.
struct Report: Equatable {
    let tflite: Outcome?
    let onnx: Outcome?

    /// true or false when both backends answered, else nil.
    var agree: Bool? {
        guard let a = tflite?.prediction, let b = onnx?.prediction else { return nil }
        return a.classIndex == b.classIndex
    }

    /// |score difference| when both answered, else nil.
    var scoreDifference: Float? {
        guard let a = tflite?.prediction, let b = onnx?.prediction else { return nil }
        return abs(a.confidence - b.confidence)
    }
}

/// The ONNX model's input and output as plain values, Foundation only: what ONNX Runtime's
/// ORTValue holds (little-endian float32 bytes) and what the app checks against contract.json.
enum OnnxIO {
    /// The contract's input shape with every free dimension (batch) set to 1.
    static func inputShape(_ spec: Contract.OnnxTensorSpec) -> [Int] {
        spec.shape.map { $0 ?? 1 }
    }

    /// float32 values as the bytes an ORTValue of element type float holds (little endian).
    static func data(_ values: [Float]) -> Data {
        var data = Data(capacity: values.count * 4)
        for value in values {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }

    /// The float32 values of an ORTValue's bytes (little endian).
    static func floats(_ data: Data) -> [Float] {
        stride(from: 0, to: data.count - data.count % 4, by: 4).map { offset in
            var bits: UInt32 = 0
            for k in 0..<4 {
                bits |= UInt32(data[data.startIndex + offset + k]) << (8 * UInt32(k))
            }
            return Float(bitPattern: bits)
        }
    }

    /// Argmax (first maximum on ties) and its score, as the model gives it.
    static func decode(_ scores: [Float], labels: [String]) throws -> Prediction {
        guard scores.count == labels.count else {
            throw ContractError(description: "the ONNX model gave \(scores.count) scores; expected \(labels.count)")
        }
        var best = 0
        for i in 1..<scores.count where scores[i] > scores[best] {
            best = i
        }
        return Prediction(classIndex: best, label: labels[best], confidence: scores[best])
    }

    /// The session's input and output names must be the contract's (ONNX Runtime's Objective-C
    /// API reports names; types and shapes are checked on the output value and by the sha256).
    static func checkNames(inputs: [String], outputs: [String], spec: Contract.OnnxModelFile) throws {
        guard inputs == [spec.input.name], outputs == [spec.output.name] else {
            throw ContractError(description: "\(spec.file) must have input \(spec.input.name) and output \(spec.output.name) as \(Contract.fileName) says. Received: inputs \(inputs), outputs \(outputs)")
        }
        guard spec.input.dtype == "float32", spec.output.dtype == "float32" else {
            throw ContractError(description: "\(spec.file) must take and give float32. Received: \(spec.input.dtype), \(spec.output.dtype)")
        }
    }

    /// An output value's element type and shape must be float32 and the contract's shape.
    static func checkOutput(isFloat: Bool, shape: [Int], spec: Contract.OnnxModelFile) throws {
        let expected = spec.output.shape.map { $0 ?? 1 }
        guard isFloat, shape == expected else {
            throw ContractError(description: "\(spec.file) output must be float32 \(expected) as \(Contract.fileName) says. Received: \(isFloat ? "float32" : "another type") \(shape)")
        }
    }
}
