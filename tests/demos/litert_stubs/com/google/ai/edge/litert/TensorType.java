// Compile-only stub of LiteRT's com.google.ai.edge.litert.TensorType (a Kotlin data class in
// Model.kt): element type and layout (dimensions, strides), as Model reports a tensor's type.
package com.google.ai.edge.litert;

public final class TensorType {
    public enum ElementType {
        INT,
        FLOAT,
        INT8,
        BOOLEAN
    }

    public static final class Layout {
        private final int[] dimensions;
        private final int[] strides;

        public Layout(int[] dimensions, int[] strides) {
            this.dimensions = dimensions;
            this.strides = strides;
        }

        public int[] getDimensions() {
            return dimensions;
        }

        public int[] getStrides() {
            return strides;
        }

        public int getRank() {
            return dimensions.length;
        }
    }

    private final ElementType elementType;
    private final Layout layout;

    public TensorType(ElementType elementType, Layout layout) {
        this.elementType = elementType;
        this.layout = layout;
    }

    public ElementType getElementType() {
        return elementType;
    }

    public Layout getLayout() {
        return layout;
    }
}
