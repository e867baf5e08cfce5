package ai.attune.plugins.quant.bnb4;

import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.quant.DynamicMap;
import ai.attune.api.spi.QuantizedTensor;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The quantizer through the SPI: the parts transformers saves, double quantization, and reading them back. */
class Bnb4QuantizerTest {
    private final JvmBackend be = new JvmBackend();

    private Tensor gaussian(long seed, int rows, int cols) {
        Random r = new Random(seed);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.02 * (1 + i / cols % 3)); // rows of different scale, so blocks differ
        }
        return Tensors.of(be, w, rows, cols);
    }

    @Test
    void partsAreNamedAndShapedAsTransformersSavesThem() {
        try (Scope s = Scope.open()) {
            QuantizedTensor q = new Nf4Quantizer().quantize(gaussian(1, 2, 64), Bnb4Config.DEFAULTS, s);
            assertEquals(List.of("w", "w.absmax", "w.quant_map", "w.quant_state.bitsandbytes__nf4"), List.copyOf(q.checkpointTensors("w").keySet()));
            assertEquals(DType.U8, q.data().dtype());
            assertArrayEquals(new int[] {64, 1}, q.data().shape());
            assertArrayEquals(new int[] {2}, q.state().get("absmax").shape());
            assertEquals(DType.F32, q.state().get("absmax").dtype());
            assertArrayEquals(QuantType.NF4.quantMap(), Tensors.toFloats(q.state().get("quant_map")));
            assertEquals("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [2, 64]}", json(q, "nf4"));
            assertEquals(64 + 2 * 4 + 16 * 4 + json(q, "nf4").length(), q.storedBytes());
        }
    }

    /** Through the SPI, each element is its code's value times its block's absmax, and the absmax is the block's max |w|. */
    @Test
    void dequantizeIsCodeValueTimesAbsmax() {
        try (Scope s = Scope.open()) {
            Tensor w = gaussian(2, 4, 96); // 384 elements: 6 blocks of 64, each spanning rows
            Fp4Quantizer fp4 = new Fp4Quantizer();
            QuantizedTensor q = fp4.quantize(w, Bnb4Config.DEFAULTS, s);
            float[] x = Tensors.toFloats(w);
            float[] absmax = Tensors.toFloats(q.state().get("absmax"));
            byte[] packed = TensorBytes.bytes(q.data());
            float[] dq = Tensors.toFloats(fp4.dequantize(q, s));
            for (int i = 0; i < x.length; i++) {
                int b = i / 64;
                float max = 0;
                for (int j = b * 64; j < b * 64 + 64; j++) {
                    max = Math.max(max, Math.abs(x[j]));
                }
                assertEquals(max, absmax[b]);
                int code = (i % 2 == 0 ? packed[i / 2] >> 4 : packed[i / 2]) & 0xF;
                assertEquals(QuantType.FP4.quantize(x[i] * (1f / max)), code, "element " + i);
                assertEquals(QuantType.FP4.value(code) * max, dq[i]);
            }
        }
    }

    /** QLoRA's double quantization costs at most 1% of the tensor's max against plain NF4 (the bound). */
    @Test
    void doubleQuantStaysWithinOnePercentOfPlainNf4() {
        try (Scope s = Scope.open()) {
            Tensor w = gaussian(3, 96, 512); // 768 absmax values: three nested blocks, the last one full
            Nf4Quantizer nf4 = new Nf4Quantizer();
            QuantizedTensor plain = nf4.quantize(w, Bnb4Config.DEFAULTS, s);
            QuantizedTensor nested = nf4.quantize(w, new Bnb4Config(64, true), s);
            assertEquals(List.of("absmax", "quant_map", "nested_absmax", "nested_quant_map", "quant_state.bitsandbytes__nf4"),
                    List.copyOf(nested.state().keySet()));
            assertEquals(DType.U8, nested.state().get("absmax").dtype());
            assertArrayEquals(new int[] {3}, nested.state().get("nested_absmax").shape());
            assertArrayEquals(DynamicMap.signed(), Tensors.toFloats(nested.state().get("nested_quant_map")));

            float[] absmax = Tensors.toFloats(plain.state().get("absmax"));
            double mean = 0;
            for (float a : absmax) {
                mean += a;
            }
            mean /= absmax.length;
            String json = json(nested, "nf4");
            float offset = Float.parseFloat(json.replaceAll(".*\"nested_offset\": ([^}]*)}", "$1"));
            assertEquals((float) mean, offset, "the offset is the mean absmax");
            assertTrue(json.startsWith("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [96, 512], "
                    + "\"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": "), json);

            float[] a = Tensors.toFloats(nf4.dequantize(plain, s));
            float[] b = Tensors.toFloats(nf4.dequantize(nested, s));
            float max = 0;
            float diff = 0;
            for (int i = 0; i < a.length; i++) {
                max = Math.max(max, Math.abs(a[i]));
                diff = Math.max(diff, Math.abs(a[i] - b[i]));
            }
            assertTrue(diff > 0, "the absmax did lose precision");
            assertTrue(diff <= 1e-2 * max, "max difference " + diff + " of max " + max);
            assertTrue(nested.storedBytes() < plain.storedBytes());
        }
    }

    @Test
    void readsBackWhatItWrote(@TempDir Path dir) throws Exception {
        Nf4Quantizer nf4 = new Nf4Quantizer();
        Path file = dir.resolve("model.safetensors");
        float[] expected;
        try (Scope s = Scope.open(); Arena arena = Arena.ofConfined()) {
            Tensor w = gaussian(4, 8, 64);
            QuantizedTensor q = nf4.quantize(w, new Bnb4Config(32, true), s);
            expected = Tensors.toFloats(nf4.dequantize(q, s));
            write(file, q.checkpointTensors("layer.weight"), arena);
        }
        try (Scope s = Scope.open(); SafetensorsFile f = SafetensorsFile.open(file)) {
            assertTrue(nf4.stores(f, "layer.weight"));
            assertFalse(new Fp4Quantizer().stores(f, "layer.weight"));
            QuantizedTensor back = nf4.read(f, "layer.weight", be, s);
            assertArrayEquals(new int[] {8, 64}, back.shape());
            assertArrayEquals(expected, Tensors.toFloats(nf4.dequantize(back, s)));
        }
    }

    @Test
    void refusesAPartThatContradictsTheState(@TempDir Path dir) throws Exception {
        Path file = withPart(dir, "w.absmax", s -> Tensors.of(be, new float[3], 3)); // 4 * 64 / 64 = 4 blocks
        assertEquals("model.safetensors: tensor 'w.absmax' is F32 [3], expected 4 elements of F32 from its quant_state", readError(file));
    }

    @Test
    void refusesABadQuantState(@TempDir Path dir) throws Exception {
        byte[] bad = "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\"}".getBytes(StandardCharsets.UTF_8);
        Path file = withPart(dir, "w.quant_state.bitsandbytes__nf4", s -> TensorBytes.u8(be, bad, new int[] {bad.length}, s));
        assertEquals("model.safetensors: tensor 'w.quant_state.bitsandbytes__nf4': key 'shape' must be a list of dimensions, found ",
                readError(file));
    }

    /** A 4x64 weight quantized as "w", with one part replaced. */
    private Path withPart(Path dir, String name, java.util.function.Function<Scope, Tensor> part) throws Exception {
        Path file = dir.resolve("model.safetensors");
        try (Scope s = Scope.open(); Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> parts = new java.util.LinkedHashMap<>(new Nf4Quantizer().quantize(gaussian(5, 4, 64), Bnb4Config.DEFAULTS, s)
                    .checkpointTensors("w"));
            parts.put(name, part.apply(s));
            write(file, parts, arena);
        }
        return file;
    }

    private String readError(Path file) throws Exception {
        try (Scope s = Scope.open(); SafetensorsFile f = SafetensorsFile.open(file)) {
            return assertThrows(ModelLoadException.class, () -> new Nf4Quantizer().read(f, "w", be, s)).getMessage();
        }
    }

    /** Python's repr of the float32 widened to double; the expected strings are what CPython prints for them. */
    @Test
    void pythonReprOfTheOffset() {
        assertEquals("0.012345679104328156", QuantState.pythonRepr(0.0123456789f));
        assertEquals("9.999999747378752e-05", QuantState.pythonRepr(1e-4f));
        assertEquals("1.4999999621068127e-05", QuantState.pythonRepr(1.5e-5f));
        assertEquals("2.0", QuantState.pythonRepr(2f));
        assertEquals("-0.5", QuantState.pythonRepr(-0.5f));
        assertEquals("123456.78125", QuantState.pythonRepr(123456.78f));
    }

    private static String json(QuantizedTensor q, String type) {
        return new String(TensorBytes.bytes(q.state().get("quant_state.bitsandbytes__" + type)), StandardCharsets.UTF_8);
    }

    private static void write(Path file, Map<String, Tensor> tensors, Arena arena) throws Exception {
        SafetensorsWriter w = new SafetensorsWriter();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            MemorySegment bytes = arena.allocate(t.numel() * t.dtype().byteSize());
            t.backend().copyToBytes(t, bytes);
            w.add(e.getKey(), t.dtype(), Arrays.stream(t.shape()).asLongStream().toArray(), bytes);
        }
        w.write(file);
    }
}
