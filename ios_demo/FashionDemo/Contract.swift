import CryptoKit
import Foundation

/// contract.json, labels.txt and the model disagree with each other or with what the app needs.
struct ContractError: Error, CustomStringConvertible {
    let description: String
}

/// What the exporter wrote about the bundled model (compiler/bundle.py), read from contract.json.
/// The same file as the Android app's; see android_demo/.../Contract.kt.
struct Contract: Decodable {
    static let fileName = "contract.json"
    static let version = 1

    struct TensorSpec: Decodable, Equatable {
        let name: String
        let shape: [Int]
        let dtype: String
        let scale: Float
        let zeroPoint: Int
    }

    struct ModelFile: Decodable {
        let file: String
        let bytes: Int
        let sha256: String
        let input: TensorSpec
        let output: TensorSpec
    }

    /// An ONNX input or output: a nil dimension has no fixed size.
    struct OnnxTensorSpec: Decodable, Equatable {
        let name: String
        let shape: [Int?]
        let dtype: String
    }

    struct OnnxModelFile: Decodable {
        let file: String
        let bytes: Int
        let sha256: String
        let input: OnnxTensorSpec
        let output: OnnxTensorSpec
    }

    struct Models: Decodable {
        let tflite: ModelFile
        /// Absent when the bundle has no .onnx.
        let onnx: OnnxModelFile?
    }

    struct Normalization: Decodable {
        let rule: String
        let divisor: Float
    }

    struct Image: Decodable {
        let height: Int
        let width: Int
        let channels: Int
        let polarity: String
        let normalization: Normalization
        let quantizeRounding: String
    }

    struct Sample: Decodable {
        let file: String
        let label: Int
    }

    let contractVersion: Int
    let models: Models
    let labelsFile: String
    let numClasses: Int
    let image: Image
    let samples: [Sample]

    var model: ModelFile { models.tflite }

    var onnx: OnnxModelFile? { models.onnx }

    /// Refuses model bytes whose size or sha256 is not what contract.json says.
    static func verify(_ data: Data, file: String, bytes: Int, sha256: String) throws {
        guard data.count == bytes else {
            throw ContractError(description: "\(file) has \(data.count) bytes; \(fileName) says \(bytes)")
        }
        let hex = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        guard hex == sha256.lowercased() else {
            throw ContractError(description: "\(file) has sha256 \(hex); \(fileName) says \(sha256)")
        }
    }

    var polarity: Polarity { Polarity(rawValue: image.polarity) ?? .lightOnDark }

    static func parse(_ data: Data) throws -> Contract {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let contract: Contract
        do {
            contract = try decoder.decode(Contract.self, from: data)
        } catch {
            throw ContractError(description: "\(fileName) cannot be read: \(error)")
        }
        try contract.check()
        return contract
    }

    private func check() throws {
        guard contractVersion == Contract.version else {
            throw ContractError(description: "\(Contract.fileName) has contract_version \(contractVersion); this app reads version \(Contract.version)")
        }
        guard image.normalization.rule == "x/255", image.quantizeRounding == "half_away_from_zero" else {
            throw ContractError(description: "\(Contract.fileName) wants normalization \(image.normalization.rule), rounding \(image.quantizeRounding); this app does x/255, half away from zero")
        }
        guard Polarity(rawValue: image.polarity) != nil else {
            throw ContractError(description: "polarity must be light_on_dark or dark_on_light. Received: \(image.polarity)")
        }
        let expectedInput = [1, image.height, image.width, 1]
        guard model.input.shape == expectedInput, model.input.dtype == "int8" else {
            throw ContractError(description: "\(Contract.fileName) input must be int8 \(expectedInput). Received: \(model.input.dtype) \(model.input.shape)")
        }
        guard model.output.shape == [1, numClasses], model.output.dtype == "int8" else {
            throw ContractError(description: "\(Contract.fileName) output must be int8 [1, \(numClasses)]. Received: \(model.output.dtype) \(model.output.shape)")
        }
        if let bad = samples.first(where: { !(0..<numClasses).contains($0.label) }) {
            throw ContractError(description: "sample \(bad.file) has label \(bad.label); expected 0..<\(numClasses)")
        }
    }
}

/// Reads labels.txt: one class name per line, in class-index order (a final newline is allowed,
/// blank lines are not).
func parseLabels(_ text: String, expectedCount: Int) throws -> [String] {
    // compiler/bundle.py writes "\n" line ends; a "\r" left by an editor is dropped.
    var lines = text.components(separatedBy: "\n")
    if lines.last == "" {
        lines.removeLast()
    }
    lines = lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
    guard lines.count == expectedCount, !lines.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
        throw ContractError(description: "labels.txt must hold \(expectedCount) non-blank lines. Received \(lines.count) lines: \(lines)")
    }
    return lines
}
