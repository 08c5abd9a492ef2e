; ModuleID = "bmm"
target triple = "unknown-unknown-unknown"
target datalayout = ""

define internal void @"bmm.body"(ptr noalias %"a", ptr noalias %"b", ptr noalias %"c", ptr noalias %"workspace", ptr %"args", i64 %"threads") nounwind
{
entry:
  br label %"q.cond"
q.cond:
  %"q" = phi  i64 [0, %"entry"], [%"q.next", %"gemm.i.end"]
  %".9" = icmp slt i64 %"q", 2
  br i1 %".9", label %"q.body", label %"q.end"
q.body:
  %".11" = mul i64 %"q", 12
  %".12" = mul i64 %"q", 20
  %".13" = mul i64 %"q", 15
  br label %"gemm.i.cond"
q.end:
  ret void
gemm.i.cond:
  %"gemm.i" = phi  i64 [0, %"q.body"], [%"gemm.i.next", %"gemm.k.end"]
  %".15" = icmp slt i64 %"gemm.i", 3
  br i1 %".15", label %"gemm.i.body", label %"gemm.i.end"
gemm.i.body:
  br label %"gemm.j.cond"
gemm.i.end:
  %"q.next" = add nuw nsw i64 %"q", 1
  br label %"q.cond"
gemm.j.cond:
  %"gemm.j" = phi  i64 [0, %"gemm.i.body"], [%"gemm.j.next", %"gemm.j.body"]
  %".18" = icmp slt i64 %"gemm.j", 5
  br i1 %".18", label %"gemm.j.body", label %"gemm.j.end"
gemm.j.body:
  %".20" = mul nuw nsw i64 %"gemm.i", 5
  %".21" = add nuw nsw i64 %".13", %".20"
  %".22" = add nuw nsw i64 %".21", %"gemm.j"
  %".23" = getelementptr inbounds float, ptr %"c", i64 %".22"
  store float              0x0, ptr %".23"
  %"gemm.j.next" = add nuw nsw i64 %"gemm.j", 1
  br label %"gemm.j.cond"
gemm.j.end:
  br label %"gemm.k.cond"
gemm.k.cond:
  %"gemm.k" = phi  i64 [0, %"gemm.j.end"], [%"gemm.k.next", %"gemm.j.end.1"]
  %".27" = icmp slt i64 %"gemm.k", 4
  br i1 %".27", label %"gemm.k.body", label %"gemm.k.end"
gemm.k.body:
  %".29" = mul nuw nsw i64 %"gemm.i", 4
  %".30" = add nuw nsw i64 %".11", %".29"
  %".31" = add nuw nsw i64 %".30", %"gemm.k"
  %".32" = getelementptr inbounds float, ptr %"a", i64 %".31"
  %".33" = load float, ptr %".32", align 4
  br label %"gemm.j.cond.1"
gemm.k.end:
  %"gemm.i.next" = add nuw nsw i64 %"gemm.i", 1
  br label %"gemm.i.cond"
gemm.j.cond.1:
  %"gemm.j.1" = phi  i64 [0, %"gemm.k.body"], [%"gemm.j.next.1", %"gemm.j.body.1"]
  %".35" = icmp slt i64 %"gemm.j.1", 5
  br i1 %".35", label %"gemm.j.body.1", label %"gemm.j.end.1"
gemm.j.body.1:
  %".37" = mul nuw nsw i64 %"gemm.k", 5
  %".38" = add nuw nsw i64 %".12", %".37"
  %".39" = add nuw nsw i64 %".38", %"gemm.j.1"
  %".40" = getelementptr inbounds float, ptr %"b", i64 %".39"
  %".41" = load float, ptr %".40", align 4
  %".42" = mul nuw nsw i64 %"gemm.i", 5
  %".43" = add nuw nsw i64 %".13", %".42"
  %".44" = add nuw nsw i64 %".43", %"gemm.j.1"
  %".45" = getelementptr inbounds float, ptr %"c", i64 %".44"
  %".46" = load float, ptr %".45", align 4
  %".47" = fmul float %".33", %".41"
  %".48" = fadd float %".46", %".47"
  store float %".48", ptr %".45"
  %"gemm.j.next.1" = add nuw nsw i64 %"gemm.j.1", 1
  br label %"gemm.j.cond.1"
gemm.j.end.1:
  %"gemm.k.next" = add nuw nsw i64 %"gemm.k", 1
  br label %"gemm.k.cond"
}

define void @"kernel.bmm"(ptr %"args") nounwind
{
entry:
  %".3" = getelementptr i64, ptr %"args", i64 4
  %"threads" = load i64, ptr %".3"
  %".4" = getelementptr ptr, ptr %"args", i64 0
  %"a" = load ptr, ptr %".4"
  %".5" = getelementptr ptr, ptr %"args", i64 1
  %"b" = load ptr, ptr %".5"
  %".6" = getelementptr ptr, ptr %"args", i64 2
  %"c" = load ptr, ptr %".6"
  %".7" = getelementptr ptr, ptr %"args", i64 3
  %"workspace" = load ptr, ptr %".7"
  call void @"bmm.body"(ptr %"a", ptr %"b", ptr %"c", ptr %"workspace", ptr %"args", i64 %"threads")
  ret void
}
