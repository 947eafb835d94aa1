package nn

// The four Winograd tile transforms, each over one row of ntx tiles of 8
// lanes. Tile tx's 4x4 input window (or 2x2 output) starts at column 2*tx
// of a band whose rows are ldr floats apart (lane k of column j at j*8+k);
// its 16 transformed values are vectors ldx apart, at tx*8. The Go bodies
// are the reference; the AVX2 bodies (winograd_amd64.s) do the same
// arithmetic in the same order on whole vectors, so both agree exactly.

import "fmt"

// winoCheck panics with a clear message when a kernel's slices are too
// short: the assembly trusts its arguments.
func winoCheck(name string, band, tiles []float32, ntx, ldr, ldx, rows int) {
	if ntx < 1 || len(band) < (rows-1)*ldr+(2*ntx+rows-2)*lanes || len(tiles) < 15*ldx+ntx*lanes {
		panic(fmt.Sprintf("nn: %s: %d tiles do not fit a band of %d (row %d) and tiles of %d (stride %d)", name, ntx, len(band), ldr, len(tiles), ldx))
	}
}

// winoInput sets dst = B^T d B for the tiles of the 4-row band src.
func winoInput(dst, src []float32, ntx, ldr, ldx int) {
	winoCheck("winoInput", src, dst, ntx, ldr, ldx, 4)
	if useSIMD {
		winoInputAVX2(&dst[0], &src[0], ntx, ldr, ldx)
		return
	}
	winoInputGo(dst, src, ntx, ldr, ldx)
}

// winoOutput sets the 2-row band dst to A^T M A for the tiles of src.
func winoOutput(dst, src []float32, ntx, ldr, ldx int) {
	winoCheck("winoOutput", dst, src, ntx, ldr, ldx, 2)
	if useSIMD {
		winoOutputAVX2(&dst[0], &src[0], ntx, ldr, ldx)
		return
	}
	winoOutputGo(dst, src, ntx, ldr, ldx)
}

// winoGradOutput sets dst = A dy A^T for the 2x2 tiles of the 2-row band src.
func winoGradOutput(dst, src []float32, ntx, ldr, ldx int) {
	winoCheck("winoGradOutput", src, dst, ntx, ldr, ldx, 2)
	if useSIMD {
		winoGradOutputAVX2(&dst[0], &src[0], ntx, ldr, ldx)
		return
	}
	winoGradOutputGo(dst, src, ntx, ldr, ldx)
}

// winoGradInput adds B X B^T of the tiles of src into the 4-row band dst;
// neighbouring tiles overlap by two columns and add in tile order.
func winoGradInput(dst, src []float32, ntx, ldr, ldx int) {
	winoCheck("winoGradInput", dst, src, ntx, ldr, ldx, 4)
	if useSIMD {
		winoGradInputAVX2(&dst[0], &src[0], ntx, ldr, ldx)
		return
	}
	winoGradInputGo(dst, src, ntx, ldr, ldx)
}

func winoInputGo(dst, src []float32, ntx, ldr, ldx int) {
	for tx := 0; tx < ntx; tx++ {
		for k := 0; k < lanes; k++ {
			var d, t [4][4]float32
			for i := 0; i < 4; i++ {
				row := src[i*ldr+2*tx*lanes+k:]
				d[i] = [4]float32{row[0], row[lanes], row[2*lanes], row[3*lanes]}
			}
			for j := 0; j < 4; j++ { // B^T d
				t[0][j] = d[0][j] - d[2][j]
				t[1][j] = d[1][j] + d[2][j]
				t[2][j] = d[2][j] - d[1][j]
				t[3][j] = d[1][j] - d[3][j]
			}
			o := tx*lanes + k
			for i := 0; i < 4; i++ { // (B^T d) B
				dst[(4*i+0)*ldx+o] = t[i][0] - t[i][2]
				dst[(4*i+1)*ldx+o] = t[i][1] + t[i][2]
				dst[(4*i+2)*ldx+o] = t[i][2] - t[i][1]
				dst[(4*i+3)*ldx+o] = t[i][1] - t[i][3]
			}
		}
	}
}

func winoOutputGo(dst, src []float32, ntx, ldr, ldx int) {
	for tx := 0; tx < ntx; tx++ {
		for k := 0; k < lanes; k++ {
			o := tx*lanes + k
			var s [2][4]float32
			for j := 0; j < 4; j++ { // A^T M
				m0, m1, m2, m3 := src[j*ldx+o], src[(4+j)*ldx+o], src[(8+j)*ldx+o], src[(12+j)*ldx+o]
				s[0][j] = m0 + m1 + m2
				s[1][j] = m1 - m2 - m3
			}
			for i := 0; i < 2; i++ { // (A^T M) A
				row := dst[i*ldr+2*tx*lanes+k:]
				row[0] = s[i][0] + s[i][1] + s[i][2]
				row[lanes] = s[i][1] - s[i][2] - s[i][3]
			}
		}
	}
}

func winoGradOutputGo(dst, src []float32, ntx, ldr, ldx int) {
	for tx := 0; tx < ntx; tx++ {
		for k := 0; k < lanes; k++ {
			var q [4][2]float32
			for j := 0; j < 2; j++ { // A dy
				d0, d1 := src[2*tx*lanes+j*lanes+k], src[ldr+2*tx*lanes+j*lanes+k]
				q[0][j] = d0
				q[1][j] = d0 + d1
				q[2][j] = d0 - d1
				q[3][j] = -d1
			}
			o := tx*lanes + k
			for i := 0; i < 4; i++ { // (A dy) A^T
				dst[(4*i+0)*ldx+o] = q[i][0]
				dst[(4*i+1)*ldx+o] = q[i][0] + q[i][1]
				dst[(4*i+2)*ldx+o] = q[i][0] - q[i][1]
				dst[(4*i+3)*ldx+o] = -q[i][1]
			}
		}
	}
}

func winoGradInputGo(dst, src []float32, ntx, ldr, ldx int) {
	for tx := 0; tx < ntx; tx++ {
		for k := 0; k < lanes; k++ {
			o := tx*lanes + k
			var p [4][4]float32
			for j := 0; j < 4; j++ { // B X
				x0, x1, x2, x3 := src[j*ldx+o], src[(4+j)*ldx+o], src[(8+j)*ldx+o], src[(12+j)*ldx+o]
				p[0][j] = x0
				p[1][j] = x1 - x2 + x3
				p[2][j] = x1 + x2 - x0
				p[3][j] = -x3
			}
			for i := 0; i < 4; i++ { // (B X) B^T, added
				row := dst[i*ldr+2*tx*lanes+k:]
				row[0] += p[i][0]
				row[lanes] += p[i][1] - p[i][2] + p[i][3]
				row[2*lanes] += p[i][1] + p[i][2] - p[i][0]
				row[3*lanes] += -p[i][3]
			}
		}
	}
}

// laneIn interleaves one row of n values of nimg <= 8 images, stride
// floats apart in src, into dst: dst[x*8+k] = src[k*stride+x]. Lanes
// k >= nimg are left as they are.
func laneIn(dst, src []float32, n, stride, nimg int) {
	if n < 1 || nimg < 1 {
		return
	}
	if len(dst) < n*lanes || len(src) < (nimg-1)*stride+n {
		panic(fmt.Sprintf("nn: laneIn: %d values of %d images do not fit %d or %d (stride %d)", n, nimg, len(dst), len(src), stride))
	}
	n4 := 0
	if useSIMD && nimg == lanes {
		n4 = n &^ 3
		if n4 > 0 {
			laneInAVX2(&dst[0], &src[0], n4, stride)
		}
	}
	laneInGo(dst[n4*lanes:], src[n4:], n-n4, stride, nimg)
}

func laneInGo(dst, src []float32, n, stride, nimg int) {
	for k := 0; k < nimg; k++ {
		for x, v := range src[k*stride : k*stride+n] {
			dst[x*lanes+k] = v
		}
	}
}

// laneOut is the inverse of laneIn for nimg images: dst[k*stride+x] =
// src[x*8+k], or += with add.
func laneOut(dst, src []float32, n, stride, nimg int, add bool) {
	if n < 1 || nimg < 1 {
		return
	}
	if len(src) < n*lanes || len(dst) < (nimg-1)*stride+n {
		panic(fmt.Sprintf("nn: laneOut: %d values of %d images do not fit %d or %d (stride %d)", n, nimg, len(src), len(dst), stride))
	}
	n4 := 0
	if useSIMD && nimg == lanes {
		n4 = n &^ 3
		if n4 > 0 {
			a := 0
			if add {
				a = 1
			}
			laneOutAVX2(&dst[0], &src[0], n4, stride, a)
		}
	}
	laneOutGo(dst[n4:], src[n4*lanes:], n-n4, stride, nimg, add)
}

func laneOutGo(dst, src []float32, n, stride, nimg int, add bool) {
	for k := 0; k < nimg; k++ {
		d := dst[k*stride : k*stride+n]
		if add {
			for x := range d {
				d[x] += src[x*lanes+k]
			}
		} else {
			for x := range d {
				d[x] = src[x*lanes+k]
			}
		}
	}
}
