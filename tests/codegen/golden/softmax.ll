; ModuleID = "softmax"
target triple = "unknown-unknown-unknown"
target datalayout = ""

define internal void @"softmax.body"(ptr noalias %"x", ptr noalias %"out", ptr noalias %"workspace", ptr %"args", i64 %"threads") nounwind
{
entry:
  %"top" = getelementptr inbounds i8, ptr %"workspace", i64 0
  %"total" = getelementptr inbounds i8, ptr %"workspace", i64 64
  %"r0.acc" = alloca float
  %"r0.acc.1" = alloca float
  br label %"i.cond"
i.cond:
  %"i" = phi  i64 [0, %"entry"], [%"i.next", %"r0.end.1"]
  %".8" = icmp slt i64 %"i", 4
  br i1 %".8", label %"i.body", label %"i.end"
i.body:
  store float 0xfff0000000000000, float* %"r0.acc"
  br label %"r0.cond"
i.end:
  br label %"i.cond.1"
r0.cond:
  %"r0" = phi  i64 [0, %"i.body"], [%"r0.next", %"r0.body"]
  %".12" = icmp slt i64 %"r0", 10
  br i1 %".12", label %"r0.body", label %"r0.end"
r0.body:
  %".14" = mul nuw nsw i64 %"i", 10
  %".15" = add nuw nsw i64 %".14", %"r0"
  %".16" = getelementptr inbounds float, ptr %"x", i64 %".15"
  %".17" = load float, ptr %".16", align 4
  %".18" = load float, float* %"r0.acc"
  %".19" = call float @"llvm.maximum.f32"(float %".18", float %".17")
  store float %".19", float* %"r0.acc"
  %"r0.next" = add nuw nsw i64 %"r0", 1
  br label %"r0.cond"
r0.end:
  %".22" = load float, float* %"r0.acc"
  %".23" = getelementptr inbounds float, ptr %"top", i64 %"i"
  store float %".22", ptr %".23", align 4
  store float              0x0, float* %"r0.acc.1"
  br label %"r0.cond.1"
r0.cond.1:
  %"r0.1" = phi  i64 [0, %"r0.end"], [%"r0.next.1", %"r0.body.1"]
  %".27" = icmp slt i64 %"r0.1", 10
  br i1 %".27", label %"r0.body.1", label %"r0.end.1"
r0.body.1:
  %".29" = mul nuw nsw i64 %"i", 10
  %".30" = add nuw nsw i64 %".29", %"r0.1"
  %".31" = getelementptr inbounds float, ptr %"x", i64 %".30"
  %".32" = load float, ptr %".31", align 4
  %".33" = getelementptr inbounds float, ptr %"top", i64 %"i"
  %".34" = load float, ptr %".33", align 4
  %".35" = fsub float %".32", %".34"
  %".36" = call float @"exp.f32"(float %".35")
  %".37" = load float, float* %"r0.acc.1"
  %".38" = fadd reassoc contract float %".37", %".36"
  store float %".38", float* %"r0.acc.1"
  %"r0.next.1" = add nuw nsw i64 %"r0.1", 1
  br label %"r0.cond.1"
r0.end.1:
  %".41" = load float, float* %"r0.acc.1"
  %".42" = getelementptr inbounds float, ptr %"total", i64 %"i"
  store float %".41", ptr %".42", align 4
  %"i.next" = add nuw nsw i64 %"i", 1
  br label %"i.cond"
i.cond.1:
  %"i.1" = phi  i64 [0, %"i.end"], [%"i.next.1", %"j.end"]
  %".46" = icmp slt i64 %"i.1", 4
  br i1 %".46", label %"i.body.1", label %"i.end.1"
i.body.1:
  br label %"j.cond"
i.end.1:
  ret void
j.cond:
  %"j" = phi  i64 [0, %"i.body.1"], [%"j.next", %"j.body"]
  %".49" = icmp slt i64 %"j", 10
  br i1 %".49", label %"j.body", label %"j.end"
j.body:
  %".51" = mul nuw nsw i64 %"i.1", 10
  %".52" = add nuw nsw i64 %".51", %"j"
  %".53" = getelementptr inbounds float, ptr %"x", i64 %".52"
  %".54" = load float, ptr %".53", align 4
  %".55" = getelementptr inbounds float, ptr %"top", i64 %"i.1"
  %".56" = load float, ptr %".55", align 4
  %".57" = fsub float %".54", %".56"
  %".58" = call float @"exp.f32"(float %".57")
  %".59" = getelementptr inbounds float, ptr %"total", i64 %"i.1"
  %".60" = load float, ptr %".59", align 4
  %".61" = fdiv float %".58", %".60"
  %".62" = mul nuw nsw i64 %"i.1", 10
  %".63" = add nuw nsw i64 %".62", %"j"
  %".64" = getelementptr inbounds float, ptr %"out", i64 %".63"
  store float %".61", ptr %".64", align 4
  %"j.next" = add nuw nsw i64 %"j", 1
  br label %"j.cond"
j.end:
  %"i.next.1" = add nuw nsw i64 %"i.1", 1
  br label %"i.cond.1"
}

declare float @"llvm.maximum.f32"(float %".1", float %".2")

define internal float @"exp.f32"(float %".1") alwaysinline
{
entry:
  %".3" = call float @"llvm.maxnum.f32"(float %".1", float 0xc05a000000000000)
  %".4" = call float @"llvm.minnum.f32"(float %".3", float 0x4056400000000000)
  %".5" = fmul float %".4", 0x3ff7154760000000
  %".6" = call float @"llvm.rint.f32"(float %".5")
  %".7" = call float @"llvm.fmuladd.f32"(float %".6", float 0xbfe6300000000000, float %".4")
  %".8" = call float @"llvm.fmuladd.f32"(float %".6", float 0x3f2bd01060000000, float %".7")
  %".9" = fptosi float %".6" to i32
  %".10" = call float @"llvm.fmuladd.f32"(float 0x3f2a01a020000000, float %".8", float 0x3f56c16c20000000)
  %".11" = call float @"llvm.fmuladd.f32"(float %".10", float %".8", float 0x3f81111120000000)
  %".12" = call float @"llvm.fmuladd.f32"(float %".11", float %".8", float 0x3fa5555560000000)
  %".13" = call float @"llvm.fmuladd.f32"(float %".12", float %".8", float 0x3fc5555560000000)
  %".14" = call float @"llvm.fmuladd.f32"(float %".13", float %".8", float 0x3fe0000000000000)
  %".15" = call float @"llvm.fmuladd.f32"(float %".14", float %".8", float 0x3ff0000000000000)
  %".16" = fmul float %".8", %".15"
  %".17" = fadd float %".16", 0x3ff0000000000000
  %".18" = ashr i32 %".9", 1
  %".19" = add i32 %".18", 127
  %".20" = shl i32 %".19", 23
  %".21" = bitcast i32 %".20" to float
  %".22" = fmul float %".17", %".21"
  %".23" = sub i32 %".9", %".18"
  %".24" = add i32 %".23", 127
  %".25" = shl i32 %".24", 23
  %".26" = bitcast i32 %".25" to float
  %".27" = fmul float %".22", %".26"
  %".28" = fcmp uno float %".1", %".1"
  %".29" = select  i1 %".28", float %".1", float %".27"
  ret float %".29"
}

declare float @"llvm.maxnum.f32"(float %".1", float %".2")

declare float @"llvm.minnum.f32"(float %".1", float %".2")

declare float @"llvm.rint.f32"(float %".1")

declare float @"llvm.fmuladd.f32"(float %".1", float %".2", float %".3")

define void @"kernel.softmax"(ptr %"args") nounwind
{
entry:
  %".3" = getelementptr i64, ptr %"args", i64 3
  %"threads" = load i64, ptr %".3"
  %".4" = getelementptr ptr, ptr %"args", i64 0
  %"x" = load ptr, ptr %".4"
  %".5" = getelementptr ptr, ptr %"args", i64 1
  %"out" = load ptr, ptr %".5"
  %".6" = getelementptr ptr, ptr %"args", i64 2
  %"workspace" = load ptr, ptr %".6"
  call void @"softmax.body"(ptr %"x", ptr %"out", ptr %"workspace", ptr %"args", i64 %"threads")
  ret void
}
