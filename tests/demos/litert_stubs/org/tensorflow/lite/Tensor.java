// Compile-only stub of LiteRT's org.tensorflow.lite.Tensor (an interface in LiteRT), with the
// methods the app calls. https://ai.google.dev/edge/api/tflite/java/org/tensorflow/lite/Tensor
package org.tensorflow.lite;

public interface Tensor {
    DataType dataType();

    int[] shape();

    QuantizationParams quantizationParams();

    /** real = scale * (q - zeroPoint); both 0 for a tensor that is not quantized. */
    class QuantizationParams {
        private final float scale;
        private final int zeroPoint;

        public QuantizationParams(float scale, int zeroPoint) {
            this.scale = scale;
            this.zeroPoint = zeroPoint;
        }

        public float getScale() {
            return scale;
        }

        public int getZeroPoint() {
            return zeroPoint;
        }
    }
}
