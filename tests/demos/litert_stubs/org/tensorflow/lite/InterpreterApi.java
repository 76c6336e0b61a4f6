// Compile-only stub of LiteRT's org.tensorflow.lite.InterpreterApi (com.google.ai.edge.litert),
// holding only the documented methods android_demo calls, so that its Classifier.kt type-checks
// here. Signatures from https://ai.google.dev/edge/api/tflite/java/org/tensorflow/lite/InterpreterApi
package org.tensorflow.lite;

public interface InterpreterApi extends AutoCloseable {
    void run(Object input, Object output);

    Tensor getInputTensor(int inputIndex);

    Tensor getOutputTensor(int outputIndex);

    @Override
    void close();
}
