import Foundation

/// Runs the bundled .onnx with ONNX Runtime's Objective-C API (pod onnxruntime-objc, imported
/// through FashionDemo-Bridging-Header.h): ORTEnv, ORTSession, ORTValue. The float32 input is
/// x / 255 (Preprocess.normalize); the model's file, names and output are checked against
/// contract.json, so a model that disagrees is refused with a message. Mirrors OnnxClassifier.kt.
final class OnnxClassifier {
    private let env: ORTEnv
    private let session: ORTSession
    private let spec: Contract.OnnxModelFile
    private let contract: Contract
    private let labels: [String]

    init(modelURL: URL, contract: Contract, labels: [String]) throws {
        guard let spec = contract.onnx else {
            throw ContractError(description: "\(Contract.fileName) has no models.onnx entry")
        }
        guard labels.count == contract.numClasses else {
            throw ContractError(description: "\(contract.labelsFile) has \(labels.count) labels; \(Contract.fileName) says \(contract.numClasses)")
        }
        try Contract.verify(Data(contentsOf: modelURL), file: spec.file, bytes: spec.bytes, sha256: spec.sha256)
        let env = try ORTEnv(loggingLevel: ORTLoggingLevel.warning)
        let options = try ORTSessionOptions()
        try options.setIntraOpNumThreads(2)
        let session = try ORTSession(env: env, modelPath: modelURL.path, sessionOptions: options)
        try OnnxIO.checkNames(inputs: try session.inputNames(), outputs: try session.outputNames(), spec: spec)
        self.env = env
        self.session = session
        self.spec = spec
        self.contract = contract
        self.labels = labels
    }

    /// A height x width 0...255 gray image (in `polarity`) as the model's float32 input.
    func inputFloats(_ gray: [Int], polarity: Polarity) -> [Float] {
        precondition(gray.count == contract.image.height * contract.image.width,
                     "image has \(gray.count) pixels; expected \(contract.image.height) x \(contract.image.width)")
        let pixels = Preprocess.toPolarity(gray, from: polarity, to: contract.polarity)
        return Preprocess.normalize(pixels, divisor: contract.image.normalization.divisor)
    }

    func classify(_ gray: [Int], polarity: Polarity) throws -> Prediction {
        let shape = OnnxIO.inputShape(spec.input).map { NSNumber(value: $0) }
        let input = try ORTValue(tensorData: NSMutableData(data: OnnxIO.data(inputFloats(gray, polarity: polarity))),
                                 elementType: ORTTensorElementDataType.float, shape: shape)
        let outputs = try session.run(withInputs: [spec.input.name: input],
                                      outputNames: [spec.output.name], runOptions: nil)
        guard let output = outputs[spec.output.name] else {
            throw ContractError(description: "\(spec.file) gave no output \(spec.output.name)")
        }
        let info = try output.tensorTypeAndShapeInfo()
        try OnnxIO.checkOutput(isFloat: info.elementType == ORTTensorElementDataType.float,
                               shape: info.shape.map { $0.intValue }, spec: spec)
        return try OnnxIO.decode(OnnxIO.floats(try output.tensorData() as Data), labels: labels)
    }
}
