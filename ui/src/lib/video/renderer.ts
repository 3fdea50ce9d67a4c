// Draws I420 frames with WebGL2: three single-channel textures and a
// YUV→RGB shader (BT.601, limited range, as LiveKit's decoder outputs).
// Nothing is converted on the CPU.
import type { Frame } from '../ipc/ipc';

const VERTEX = `#version 300 es
in vec2 pos;
out vec2 uv;
void main() {
  uv = vec2((pos.x + 1.0) * 0.5, 1.0 - (pos.y + 1.0) * 0.5);
  gl_Position = vec4(pos, 0.0, 1.0);
}`;

const FRAGMENT = `#version 300 es
precision mediump float;
in vec2 uv;
uniform sampler2D planeY;
uniform sampler2D planeU;
uniform sampler2D planeV;
out vec4 color;
void main() {
  float y = 1.1644 * (texture(planeY, uv).r - 0.0625);
  float u = texture(planeU, uv).r - 0.5;
  float v = texture(planeV, uv).r - 0.5;
  color = vec4(y + 1.5960 * v, y - 0.3918 * u - 0.8130 * v, y + 2.0172 * u, 1.0);
}`;

export class I420Renderer {
  private gl: WebGL2RenderingContext;
  private textures: WebGLTexture[] = [];
  private size = [0, 0];

  /// Throws when WebGL2 is unavailable.
  constructor(private canvas: HTMLCanvasElement) {
    const gl = canvas.getContext('webgl2', {
      alpha: false,
      antialias: false,
      depth: false,
      // Kept so the picture can be read back (tests, screenshots).
      preserveDrawingBuffer: true,
    });
    if (!gl) throw new Error('WebGL2 is not available');
    this.gl = gl;
    const program = gl.createProgram();
    for (const [type, src] of [
      [gl.VERTEX_SHADER, VERTEX],
      [gl.FRAGMENT_SHADER, FRAGMENT],
    ] as const) {
      const s = gl.createShader(type);
      if (!s) throw new Error('shader allocation failed');
      gl.shaderSource(s, src);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s) ?? 'shader');
      gl.attachShader(program, s);
    }
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(program) ?? 'link');
    gl.useProgram(program);
    const buf = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, buf);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    const pos = gl.getAttribLocation(program, 'pos');
    gl.enableVertexAttribArray(pos);
    gl.vertexAttribPointer(pos, 2, gl.FLOAT, false, 0, 0);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    ['planeY', 'planeU', 'planeV'].forEach((name, i) => {
      const t = gl.createTexture();
      gl.activeTexture(gl.TEXTURE0 + i);
      gl.bindTexture(gl.TEXTURE_2D, t);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      gl.uniform1i(gl.getUniformLocation(program, name), i);
      this.textures.push(t);
    });
  }

  draw(f: Frame) {
    const gl = this.gl;
    const { width: w, height: h } = f;
    const cw = w >> 1;
    const ch = h >> 1;
    const resized = this.size[0] !== w || this.size[1] !== h;
    if (resized) {
      this.canvas.width = w;
      this.canvas.height = h;
      this.size = [w, h];
      gl.viewport(0, 0, w, h);
    }
    const planes: [number, number, number, number][] = [
      [0, w, h, 0],
      [1, cw, ch, w * h],
      [2, cw, ch, w * h + cw * ch],
    ];
    for (const [i, pw, ph, off] of planes) {
      gl.activeTexture(gl.TEXTURE0 + i);
      const view = f.data.subarray(off, off + pw * ph);
      if (resized) gl.texImage2D(gl.TEXTURE_2D, 0, gl.R8, pw, ph, 0, gl.RED, gl.UNSIGNED_BYTE, view);
      else gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, pw, ph, gl.RED, gl.UNSIGNED_BYTE, view);
    }
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  }

  dispose() {
    for (const t of this.textures) this.gl.deleteTexture(t);
    this.textures = [];
    this.gl.getExtension('WEBGL_lose_context')?.loseContext();
  }
}
