#!/usr/bin/env python3
"""The MNIST CNN of scripts/models-table.sh: Conv(1->16, 8x8, stride 4, padding 2), a clipped
ReLU, Linear(784 -> 10), trained with quantization-aware training matched to Shroud's
post-training quantizer at 4 bits (see the comments below), so that `shroud compile
--bits 4 --input-range 0,1` reproduces the training grid. Loads MNIST from datasets/mnist,
trains with seed 0 and exports the ONNX file named on the command line. scripts/export-fixtures.py
runs it for the committed fixture (crates/nn/tests/fixtures/mnist_cnn.onnx).
"""
import gzip, numpy as np, torch, torch.nn as nn, torch.nn.functional as F, time, sys, os
# One thread: the same bytes on every run (two threads reorder sums between runs).
torch.set_num_threads(int(os.environ.get("NT","1")))
D=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'datasets', 'mnist')
def idx(path):
    with gzip.open(path,'rb') as f: data=f.read()
    nd=data[3]; dims=[int.from_bytes(data[4+4*i:8+4*i],'big') for i in range(nd)]
    return np.frombuffer(data,dtype=np.uint8,offset=4+4*nd).reshape(dims)
def load():
    xtr=torch.tensor(idx(f'{D}/train-images-idx3-ubyte.gz'),dtype=torch.float32).div_(255).unsqueeze(1)
    ytr=torch.tensor(idx(f'{D}/train-labels-idx1-ubyte.gz'),dtype=torch.long)
    xte=torch.tensor(idx(f'{D}/t10k-images-idx3-ubyte.gz'),dtype=torch.float32).div_(255).unsqueeze(1)
    yte=torch.tensor(idx(f'{D}/t10k-labels-idx1-ubyte.gz'),dtype=torch.long)
    return xtr,ytr,xte,yte
def shift(x, m=2):
    # random integer shifts up to m pixels (zero fill)
    n=x.shape[0]; p=F.pad(x,(m,m,m,m))
    dx=torch.randint(0,2*m+1,(n,)); dy=torch.randint(0,2*m+1,(n,))
    out=torch.empty_like(x)
    for a in range(2*m+1):
        for b in range(2*m+1):
            sel=(dy==a)&(dx==b)
            if sel.any(): out[sel]=p[sel,:,a:a+28,b:b+28]
    return out
def evaluate(model,x,y):
    model.eval(); c=0
    with torch.no_grad():
        for i in range(0,len(x),2000): c+=(model(x[i:i+2000]).argmax(1)==y[i:i+2000]).sum().item()
    return c/len(x)
# Quantization-aware training matched to Shroud's post-training quantizer (window form):
# - inputs quantized to U = 2^bits-1 levels;
# - layers followed by an activation: per-output-channel weights s_c * omega, omega in [-Q,Q] with
#   max|omega| = Q exactly (so Shroud's alternating projection reproduces them), and
#   s_c = U / (in_top * 2^k_c) with integer k_c, so that a bucket of 2^k_c accumulator units is
#   exactly 1.0 in real units;
# - activation: 8 buckets, y = clamp(round(x), 0, 7), exported as Hardtanh(0, 7.5);
# - the layer's output unit spreads ~7 over [0,U]: y -> round(y*U/7)*7/U.
# - last layer (logits): one weight scale max|W|/Q for the whole matrix.
def ste_round(x): return x + (torch.round(x) - x).detach()
class QLayer(nn.Module):
    def __init__(self, mod, act, in_top, bits):
        super().__init__(); self.mod=mod; self.act=act; self.in_top=in_top
        self.Q=2**(bits-1)-1; self.U=2**bits-1
        oc=mod.weight.shape[0]
        self.lam=nn.Parameter(torch.zeros(oc)); self.quant=True
    def qweight(self):
        W=self.mod.weight; oc=W.shape[0]; Wf=W.reshape(oc,-1)
        if self.act:
            mx=Wf.abs().max(1,keepdim=True)[0].detach().clamp_min(1e-8)
            om=ste_round(Wf*self.Q/mx).clamp(-self.Q,self.Q)
            k=ste_round(self.lam)
            s=self.U/(self.in_top*torch.pow(2.0,k))
            return (om*s[:,None]).reshape(W.shape)
        mx=Wf.abs().max().detach().clamp_min(1e-8)
        om=ste_round(Wf*self.Q/mx).clamp(-self.Q,self.Q)
        return (om*mx/self.Q).reshape(W.shape)
    def forward(self,x):
        W=self.qweight() if self.quant else self.mod.weight
        if isinstance(self.mod,nn.Conv2d):
            return F.conv2d(x,W,self.mod.bias,self.mod.stride,self.mod.padding,self.mod.dilation,self.mod.groups)
        return F.linear(x,W,self.mod.bias)
class QAct(nn.Module):
    def __init__(self,bits): super().__init__(); self.U=2**bits-1
    def forward(self,x):
        q=ste_round(x).clamp(0,7)
        return q+(torch.round(q*self.U/7)*7/self.U-q).detach()
class QInput(nn.Module):
    def __init__(self,bits): super().__init__(); self.U=2**bits-1
    def forward(self,x): return torch.round(x*self.U)/self.U
def build(spec, bits):
    """spec: list of ('conv',cin,cout,k,s,p[,groups]) / ('fc',in,out) / 'act' / 'flat'. Every conv/fc
    followed by 'act' gets the matched quantization; the last fc is the logits layer."""
    layers=[QInput(bits)]; in_top=1.0
    for i,l in enumerate(spec):
        if l=='act': layers.append(QAct(bits)); in_top=7.0; continue
        if l=='flat': layers.append(nn.Flatten()); continue
        act = i+1<len(spec) and spec[i+1]=='act'
        if l[0]=='conv': m=nn.Conv2d(l[1],l[2],l[3],l[4],l[5],groups=(l[6] if len(l)>6 else 1))
        else: m=nn.Linear(l[1],l[2])
        layers.append(QLayer(m,act,in_top,bits))
    return nn.Sequential(*layers)
def init_lams(model, x):
    with torch.no_grad():
        for i,l in enumerate(model):
            if isinstance(l,QLayer) and l.act:
                l.lam.zero_(); h=model[:i+1](x)
                dims=[0,2,3] if h.dim()==4 else [0]
                sd=h.std(dim=dims).clamp_min(1e-6)
                l.lam.copy_(torch.log2(sd/2.0))
                l.mod.bias.fill_(0.5)
def export(model, path):
    seq=[]
    for l in model:
        if isinstance(l,QInput): continue
        if isinstance(l,QLayer):
            m=l.mod; W=l.qweight().detach()
            if isinstance(m,nn.Conv2d):
                c=nn.Conv2d(m.in_channels,m.out_channels,m.kernel_size,m.stride,m.padding,groups=m.groups)
            else: c=nn.Linear(m.in_features,m.out_features)
            c.weight.data.copy_(W); c.bias.data.copy_(m.bias.detach()); seq.append(c)
        elif isinstance(l,QAct): seq.append(nn.Hardtanh(0.0,7.5))
        else: seq.append(l)
    net=nn.Sequential(*seq).eval()
    torch.onnx.export(net,torch.zeros(1,1,28,28),path,input_names=['input'],output_names=['output'],opset_version=14,
        dynamic_axes={'input':{0:'batch'},'output':{0:'batch'}},dynamo=False)
    return net
def qtrain(spec, bits=4, epochs=10, lr=3e-3, bs=128, aug=2, seed=0, out=None, label=''):
    torch.manual_seed(seed); np.random.seed(seed)
    xtr,ytr,xte,yte=load()
    model=build(spec,bits)
    init_lams(model, xtr[:2000])
    opt=torch.optim.Adam(model.parameters(),lr=lr)
    steps=epochs*((len(xtr)+bs-1)//bs)
    sched=torch.optim.lr_scheduler.OneCycleLR(opt,max_lr=lr,total_steps=steps,pct_start=0.15)
    t0=time.time()
    for ep in range(epochs):
        model.train(); perm=torch.randperm(len(xtr))
        for i in range(0,len(xtr),bs):
            idb=perm[i:i+bs]; xb=xtr[idb]; yb=ytr[idb]
            if aug and ep<epochs-1: xb=shift(xb,aug)
            loss=F.cross_entropy(model(xb),yb)
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        print(f'{label} ep{ep} loss {loss.item():.4f} qtest {evaluate(model,xte,yte):.4f} t={time.time()-t0:.0f}s',flush=True)
    acc=evaluate(model,xte,yte)
    if out:
        net=export(model,out); facc=evaluate(net,xte,yte)
        print(f'{label} qat_acc {acc:.4f} exported_float_acc {facc:.4f}',flush=True)
    return model,acc

# ---- the architecture of scripts/models-table.sh: 784 activations on 7x7 maps ----
SPEC = [('conv',1,16,8,4,2),'act','flat',('fc',784,10)]
EPOCHS = 8
BITS = 4


def main(out):
    """Trains the table's CNN (seed 0; about a minute on 2 cores) and exports it to `out`."""
    model, acc = qtrain(SPEC, bits=BITS, epochs=EPOCHS, out=out, label='mnist_cnn', seed=0)
    return acc


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'mnist_cnn.onnx')
