import Foundation
import TensorFlowLite

/// Runs the bundled int8 .tflite with TensorFlowLiteSwift's Interpreter (the CPU).
///
/// Scale and zero point come from the model's own tensors at run time; init checks that dtype,
/// shape and quantization agree with contract.json, and the file's size and sha256 with the
/// contract, so a model swapped without its contract fails loudly. Mirrors Classifier.kt.
final class Classifier {
    private let interpreter: Interpreter
    private let contract: Contract
    private let labels: [String]
    private let input: (scale: Float, zeroPoint: Int)
    private let output: (scale: Float, zeroPoint: Int)

    init(modelURL: URL, contract: Contract, labels: [String]) throws {
        guard labels.count == contract.numClasses else {
            throw ContractError(description: "\(contract.labelsFile) has \(labels.count) labels; \(Contract.fileName) says \(contract.numClasses)")
        }
        try Contract.verify(Data(contentsOf: modelURL), file: contract.model.file,
                            bytes: contract.model.bytes, sha256: contract.model.sha256)
        var options = Interpreter.Options()
        options.threadCount = 2
        // Built in locals: a class may not read its own properties before all are initialized.
        let interpreter = try Interpreter(modelPath: modelURL.path, options: options)
        try interpreter.allocateTensors()
        input = try Classifier.check("input", try interpreter.input(tensorAt: 0), contract.model.input)
        output = try Classifier.check("output", try interpreter.output(tensorAt: 0), contract.model.output)
        self.interpreter = interpreter
        self.contract = contract
        self.labels = labels
    }

    /// Quantizes a height x width 0...255 gray image (in `polarity`) exactly as the model expects.
    func inputBytes(_ gray: [Int], polarity: Polarity) -> [Int8] {
        precondition(gray.count == contract.image.height * contract.image.width,
                     "image has \(gray.count) pixels; expected \(contract.image.height) x \(contract.image.width)")
        let pixels = Preprocess.toPolarity(gray, from: polarity, to: contract.polarity)
        return Preprocess.quantize(pixels, divisor: contract.image.normalization.divisor,
                                   scale: input.scale, zeroPoint: input.zeroPoint)
    }

    /// Classifies a height x width 0...255 gray image given in `polarity`.
    func classify(_ gray: [Int], polarity: Polarity) throws -> Prediction {
        let bytes = inputBytes(gray, polarity: polarity)
        try interpreter.copy(bytes.withUnsafeBufferPointer { Data(buffer: $0) }, toInputAt: 0)
        try interpreter.invoke()
        let scores = try interpreter.output(tensorAt: 0).data.map { Int8(bitPattern: $0) }
        return decode(scores)
    }

    /// Argmax (first maximum on ties) and its dequantized score: scale * (q - zeroPoint).
    func decode(_ scores: [Int8]) -> Prediction {
        precondition(scores.count == labels.count, "model gave \(scores.count) scores; expected \(labels.count)")
        var best = 0
        for i in 1..<scores.count where scores[i] > scores[best] {
            best = i
        }
        let confidence = output.scale * Float(Int(scores[best]) - output.zeroPoint)
        return Prediction(classIndex: best, label: labels[best], confidence: confidence)
    }

    private static func check(_ role: String, _ tensor: Tensor, _ spec: Contract.TensorSpec) throws -> (scale: Float, zeroPoint: Int) {
        guard tensor.dataType == .int8, tensor.shape.dimensions == spec.shape,
              let params = tensor.quantizationParameters else {
            throw ContractError(description: "model \(role) must be quantized int8 \(spec.shape) as \(Contract.fileName) says. Received: \(tensor.dataType) \(tensor.shape.dimensions)")
        }
        guard params.scale == spec.scale, params.zeroPoint == spec.zeroPoint else {
            throw ContractError(description: "model \(role) has scale \(params.scale), zero point \(params.zeroPoint); \(Contract.fileName) says \(spec.scale), \(spec.zeroPoint)")
        }
        return (params.scale, params.zeroPoint)
    }
}
